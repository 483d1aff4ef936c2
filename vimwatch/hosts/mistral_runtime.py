"""The monitors of one Mistral executor process: one loop, one broker queue, one scheduler.

Mistral runs each action's `run()` in a thread of its own and waits for it, so a monitor
action has to block for as long as it monitors. Tacker's action gave every VIM its own RPC
server (three broker queues) and a busy loop forking `ping`. Here the first action of a
process starts this runtime instead: a daemon thread running an asyncio loop that holds one
RabbitMQ transport (one queue for the whole process) and one Scheduler (one ICMP socket).
Each action adds its VIM to the scheduler, binds `KILL_ACTION.<vim id>` to the process's
queue, and parks its Mistral thread on an Event until the monitor ends.

One monitor per VIM. Mistral starts a VIM's action again only after it has declared the
previous one dead (missed heartbeats), but the "dead" executor may merely have been cut off
from the broker and come back. So each monitor announces its claim (start time, action
execution id) on `KILL_ACTION.<vim id>` when it starts and again whenever this process's
broker connection is restored. A monitor that hears a newer claim for its VIM ends as
SUPERSEDED; one that hears an older claim answers with its own, so the older one ends.

A kill names the workflow execution it ends. Changing a VIM's monitor settings kills its
execution and starts another, and the kill may reach this process after the new monitor
began here: it then ends nothing. A kill naming no execution (Tacker's) ends the VIM's
monitor, whichever it is.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from vimwatch.conductor.client import update_vims
from vimwatch.contract import kill_address
from vimwatch.errors import VimwatchError
from vimwatch.hosts.engine import monitor_spec
from vimwatch.messaging.base import MessagingError, run_from_thread
from vimwatch.messaging.rabbit import RabbitTransport
from vimwatch.monitor.scheduler import MonitorSpec, Scheduler

LOG = logging.getLogger(__name__)
TRANSPORT_URL_VARIABLE = "VIMWATCH_TRANSPORT_URL"
SETUP_TIMEOUT = 30.0


class Outcome(enum.Enum):
    """Why a monitor ended; the action turns it into its Mistral result."""

    KILLED = "KILLED"  # killAction: the VIM was deleted or its monitor settings changed
    VIM_GONE = "VIM_GONE"  # the conductor no longer knows the VIM
    SUPERSEDED = "SUPERSEDED"  # a newer monitor of the same VIM took over
    FAILED = "FAILED"  # this process's runtime shut down under the monitor


@dataclass(frozen=True, order=True)
class Claim:
    """Who monitors a VIM: the later start wins (executor clocks are kept in sync by NTP)."""

    started_at: float
    action_id: str


@dataclass(eq=False)
class _Run:
    claim: Claim
    execution_id: str | None = None  # the Mistral workflow execution the action belongs to
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None

    def finish(self, outcome: Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.done.set()


class _VimEndpoint:
    """What arrives on `KILL_ACTION.<vim id>`: the kill, and other monitors' claims."""

    methods = ("killAction", "supersede")

    def __init__(self, runtime: MonitorRuntime, vim_id: str) -> None:
        self._runtime, self._vim_id = runtime, vim_id

    async def killAction(self, execution_id: str | None = None) -> None:  # noqa: N802 - the old monitor's wire name
        await self._runtime.kill(self._vim_id, execution_id)

    async def supersede(self, action_id: str, started_at: float) -> None:
        await self._runtime.heard_claim(self._vim_id, Claim(float(started_at), str(action_id)))


class MonitorRuntime:
    def __init__(
        self, transport_url: str, *, process_name: str, report_timeout: float = 10.0
    ) -> None:
        self._transport = RabbitTransport(transport_url, process_name=process_name)
        self._scheduler = Scheduler(self._report_statuses)
        self._report_timeout = report_timeout
        self._runs: dict[str, _Run] = {}  # touched only on the loop's thread
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="vimwatch-monitors", daemon=True
        )
        self.pid = os.getpid()

    @property
    def queue_name(self) -> str:
        return self._transport.queue_name

    def start(self) -> None:
        """Start the loop thread and connect; MessagingError if the broker cannot be used."""
        self._thread.start()
        try:
            run_from_thread(self._loop, self._open(), SETUP_TIMEOUT)
        except BaseException:
            self._stop_loop()
            raise

    def close(self) -> None:
        """End every monitor (FAILED) and disconnect; for tests and orderly shutdowns."""
        if self._thread.is_alive():
            run_from_thread(self._loop, self._close(), SETUP_TIMEOUT)
            self._stop_loop()

    def alive(self) -> bool:
        return self._thread.is_alive() and self.pid == os.getpid()

    def monitor(
        self, task_input: dict[str, Any], action_id: str, execution_id: str | None = None
    ) -> Outcome:
        """Monitor one VIM until its monitor ends; blocks the calling thread meanwhile.

        `execution_id` is the workflow execution of the action, which kills name. Raises
        (KeyError, ValueError, VimwatchError) for an input that describes no monitor,
        before anything is started.
        """
        spec = monitor_spec(task_input)
        run = _Run(Claim(time.time(), action_id), execution_id)
        run_from_thread(self._loop, self._begin(spec, run), SETUP_TIMEOUT)
        run.done.wait()
        return run.outcome or Outcome.FAILED

    def monitored(self) -> set[str]:
        """The VIMs this process monitors right now."""
        monitored: set[str] = run_from_thread(self._loop, self._monitored(), SETUP_TIMEOUT)
        return monitored

    async def kill(self, vim_id: str, execution_id: str | None) -> None:
        """End the VIM's monitor if it runs for `execution_id` (or any, given None)."""
        run = self._runs.get(vim_id)
        if run is None:
            return
        if execution_id is not None and execution_id != run.execution_id:
            LOG.info(
                "VIM %s: ignoring a kill of execution %s; this monitor runs execution %s",
                vim_id,
                execution_id,
                run.execution_id,
            )
            return
        await self.end(vim_id, Outcome.KILLED)

    async def end(self, vim_id: str, outcome: Outcome) -> None:
        run = self._runs.pop(vim_id, None)
        if run is None:
            return
        self._scheduler.remove(vim_id)
        await self._transport.unbind(kill_address(vim_id))
        run.finish(outcome)
        LOG.info("monitor of VIM %s ended: %s", vim_id, outcome.value)

    async def heard_claim(self, vim_id: str, claim: Claim) -> None:
        run = self._runs.get(vim_id)
        if run is None or run.claim.action_id == claim.action_id:
            return
        if run.claim < claim:
            LOG.warning("VIM %s is monitored by newer action %s; ending", vim_id, claim.action_id)
            await self.end(vim_id, Outcome.SUPERSEDED)
        else:
            await self._announce(vim_id, run.claim)

    async def _open(self) -> None:
        await self._transport.start()
        await self._scheduler.start()
        self._transport.on_reconnect(self._announce_all)

    async def _close(self) -> None:
        for vim_id in list(self._runs):
            await self.end(vim_id, Outcome.FAILED)
        await self._scheduler.close()
        await self._transport.close()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(SETUP_TIMEOUT)

    async def _monitored(self) -> set[str]:
        return set(self._runs)

    async def _begin(self, spec: MonitorSpec, run: _Run) -> None:
        previous = self._runs.get(spec.vim_id)
        self._scheduler.add(spec)  # replaces a previous monitor of the VIM, if any
        self._runs[spec.vim_id] = run
        if previous is None:
            await self._transport.bind(kill_address(spec.vim_id), _VimEndpoint(self, spec.vim_id))
        else:
            previous.finish(Outcome.SUPERSEDED)
        await self._announce(spec.vim_id, run.claim)
        LOG.info("monitoring VIM %s for action %s", spec.vim_id, run.claim.action_id)

    async def _announce(self, vim_id: str, claim: Claim) -> None:
        try:
            await self._transport.cast(
                kill_address(vim_id),
                "supersede",
                action_id=claim.action_id,
                started_at=claim.started_at,
            )
        except MessagingError as exc:
            LOG.warning("claim on VIM %s not announced (%s); again on reconnect", vim_id, exc)

    async def _announce_all(self) -> None:
        for vim_id, run in list(self._runs.items()):
            await self._announce(vim_id, run.claim)

    async def _report_statuses(self, changes: list[tuple[str, str]]) -> list[str | Exception]:
        """Same contract as the embedded engine: the conductor's answers are the statuses."""
        applied = await update_vims(
            self._transport,
            [(vim_id, status, False) for vim_id, status in changes],
            timeout=self._report_timeout,
        )
        outcomes: list[str | Exception] = []
        for (vim_id, status), result in zip(changes, applied, strict=True):
            if result is None:
                await self.end(vim_id, Outcome.VIM_GONE)
            outcomes.append(status if result is None else result)
        return outcomes


_lock = threading.Lock()
_runtime: MonitorRuntime | None = None


def process_runtime() -> MonitorRuntime:
    """This process's runtime, started by the first action that needs it.

    A failed start is not cached, so the next action (Mistral retries the task) tries again.
    """
    global _runtime
    with _lock:
        if _runtime is None or not _runtime.alive():
            url = os.environ.get(TRANSPORT_URL_VARIABLE)
            if not url:
                raise VimwatchError(
                    f"{TRANSPORT_URL_VARIABLE} is not set in the Mistral executor's environment"
                )
            runtime = MonitorRuntime(url, process_name=f"mistral-executor.{os.getpid()}")
            runtime.start()
            _runtime = runtime
        return _runtime
