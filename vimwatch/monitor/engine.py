"""The engine: runs the monitor action of every RUNNING monitoring task in this process.

What to run comes from the registry (RUNNING executions of live VIMs), so a restarted
engine resumes exactly the monitors that should exist, and one woken for a single VIM
loads just that VIM. Kills arrive at `KILL_ACTION.<vim id>`, bound only while the monitor
runs here; a periodic reconcile catches anything a lost message would leave behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from vimwatch.errors import VimwatchError
from vimwatch.messaging.base import Transport
from vimwatch.monitor.scheduler import MonitorSpec, Scheduler
from vimwatch.monitor.target import target_from_auth_url
from vimwatch.registry import workflows as records
from vimwatch.registry.database import Registry
from vimwatch.workflows.backends.base import ENGINE_ADDRESS, kill_address

LOG = logging.getLogger(__name__)
CONDUCTOR_TOPIC = "vimwatch.conductor"


class _KillEndpoint:
    methods = ("killAction",)

    def __init__(self, engine: Engine, vim_id: str) -> None:
        self._engine, self._vim_id = engine, vim_id

    async def killAction(self) -> None:  # noqa: N802 - the old monitor's wire name
        await self._engine.kill(self._vim_id)


class _WakeEndpoint:
    methods = ("monitor_vim",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def monitor_vim(self, vim_id: str) -> None:
        await self._engine.load(vim_id)


def monitor_spec(task_input: dict) -> MonitorSpec:
    return MonitorSpec(
        vim_id=task_input["vim_id"],
        target=target_from_auth_url(task_input["auth_url"], task_input["cert_verify"]),
        probe=task_input["probe"],
        interval=float(task_input["interval"]),
        timeout=float(task_input["timeout"]),
        down_after=int(task_input["down_after"]),
        up_after=int(task_input["up_after"]),
    )


class Engine:
    def __init__(
        self,
        registry: Registry,
        transport: Transport,
        *,
        reconcile_interval: float = 30.0,
        report_timeout: float = 10.0,
    ) -> None:
        self._registry = registry
        self._transport = transport
        self._reconcile_interval = reconcile_interval
        self._report_timeout = report_timeout
        self.scheduler = Scheduler(self._report_status)
        self._reconciler: asyncio.Task[None] | None = None
        self._bound: set[str] = set()

    async def start(self) -> None:
        await self.scheduler.start()
        await self._transport.bind(ENGINE_ADDRESS, _WakeEndpoint(self))
        await self.reconcile()
        self._reconciler = asyncio.create_task(self._reconcile_forever())

    async def stop(self) -> None:
        if self._reconciler:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
        await self._transport.unbind(ENGINE_ADDRESS)
        for vim_id in list(self.running()):
            await self._transport.unbind(kill_address(vim_id))
        await self.scheduler.close()

    def running(self) -> set[str]:
        return set(self._bound)

    async def reconcile(self) -> None:
        """Make the monitors running here match the RUNNING tasks in the registry."""
        wanted = await asyncio.to_thread(self._load_running)
        for vim_id in self.running() - wanted.keys():
            await self._stop(vim_id)
        for vim_id, monitor in wanted.items():
            if vim_id not in self.scheduler:
                await self._start(monitor)

    async def load(self, vim_id: str) -> None:
        monitors = await asyncio.to_thread(self._load_running, vim_id)
        for monitor in monitors.values():
            await self._start(monitor)

    async def kill(self, vim_id: str) -> None:
        """Stop a VIM's monitor and record that its task and execution ended cleanly."""
        await self._stop(vim_id)
        await asyncio.to_thread(self._finish, vim_id, records.SUCCESS, None)
        LOG.info("monitor of VIM %s killed", vim_id)

    def _load_running(self, vim_id: str | None = None) -> dict[str, records.RunningMonitor]:
        with self._registry.reading() as session:
            return {m.vim_id: m for m in records.running_monitors(session, vim_id)}

    def _finish(self, vim_id: str, state: str, info: str | None) -> None:
        with self._registry.transaction() as session:
            records.finish_execution(session, vim_id, state, info)

    async def _start(self, monitor: records.RunningMonitor) -> None:
        try:
            spec = monitor_spec(monitor.task_input)
        except (KeyError, ValueError, VimwatchError) as exc:
            LOG.error("cannot monitor VIM %s: %s", monitor.vim_id, exc)
            await asyncio.to_thread(self._finish, monitor.vim_id, records.ERROR, str(exc))
            return
        await self._transport.bind(kill_address(spec.vim_id), _KillEndpoint(self, spec.vim_id))
        self._bound.add(spec.vim_id)
        self.scheduler.add(spec, monitor.status)

    async def _stop(self, vim_id: str) -> None:
        self.scheduler.remove(vim_id)
        self._bound.discard(vim_id)
        await self._transport.unbind(kill_address(vim_id))

    async def _report_status(self, vim_id: str, status: str) -> str:
        applied = await self._transport.call(
            CONDUCTOR_TOPIC,
            "update_vim",
            timeout=self._report_timeout,
            vim_id=vim_id,
            status=status,
        )
        if applied is None:
            LOG.info("VIM %s no longer exists; stopping its monitor", vim_id)
            await self._stop(vim_id)
            return status
        return applied

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self._reconcile_interval)
            try:
                await self.reconcile()
            except Exception:
                LOG.exception("reconcile failed; retrying in %ss", self._reconcile_interval)
