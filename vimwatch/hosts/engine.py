"""The engine: runs the monitor actions of the executions it holds a lease on.

Which monitors to run comes from the registry, through lease rounds (registry.leases): a
restarted engine resumes the monitors it held, several engines share the VIMs out, and
the VIMs of an engine that died are claimed by the others once its leases expire. Kills
arrive at `KILL_ACTION.<vim id>`, bound only while the monitor runs here, and name the
execution they end: a VIM's monitor is known by its execution, so a kill meant for the
previous execution of a VIM, arriving after the next one started here, ends nothing.
Each round also audits that every live VIM has a running execution (workflows.audit).
When the database is unreachable the engine keeps probing what it has and retries the
round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from vimwatch.check_names import API
from vimwatch.conductor.client import update_vims
from vimwatch.contract import (
    CONDUCTOR_TOPIC,
    ENGINE_ADDRESS,
    ERROR,
    PENDING,
    REACHABLE,
    SUCCESS,
    UNREACHABLE,
    kill_address,
)
from vimwatch.errors import VimwatchError
from vimwatch.hosts.check_records import CheckRecorder
from vimwatch.instruments import CONDUCTOR_CALL_SECONDS
from vimwatch.messaging.base import Transport
from vimwatch.monitor.checks.runner import ApiChecks, ApiSettings, LoadAccess, VimAccess
from vimwatch.monitor.flapping import FlapDetector
from vimwatch.monitor.guard import IsolationGuard
from vimwatch.monitor.scheduler import MonitorSpec, ReportDeferred, Scheduler
from vimwatch.monitor.target import target_from_auth_url
from vimwatch.registry import leases
from vimwatch.registry import workflows as records
from vimwatch.registry.database import Registry, utcnow
from vimwatch.workflows.audit import MonitorAudit

LOG = logging.getLogger(__name__)
R = TypeVar("R")
Ts = TypeVarTuple("Ts")
_LOAD_CHUNK = 5000  # below every database's limit on bound parameters
# Lease rounds between two counts of this engine's leases against its running monitors.
_CHECK_EVERY = 8
_START_CHUNK = 1000
# How long a woken engine waits for more registrations before its round: registrations
# arriving one call each then share a round instead of each paying for one.
_WAKE_GATHER = 0.05


class _KillEndpoint:
    methods = ("killAction",)

    def __init__(self, engine: Engine, vim_id: str) -> None:
        self._engine, self._vim_id = engine, vim_id

    async def killAction(self, execution_id: str | None = None) -> None:  # noqa: N802 - the old monitor's wire name
        await self._engine.kill(self._vim_id, execution_id)


class _NewExecutionBell:
    """Rings an engine's next lease round when the embedded backend starts an execution.

    The cast keeps its wire name (`monitor_vim` to ENGINE_ADDRESS) and its `vim_id`, which
    the engine does not need: a lease round takes every unleased execution, the new one's
    among them, and registrations arriving together then share one round."""

    methods = ("monitor_vim",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def monitor_vim(self, vim_id: str | None = None) -> None:
        self._engine.wake()


def monitor_spec(task_input: dict[str, Any], owner: str = "") -> MonitorSpec:
    return MonitorSpec(
        vim_id=task_input["vim_id"],
        target=target_from_auth_url(task_input["auth_url"], task_input["cert_verify"]),
        probe=task_input["probe"],
        interval=float(task_input["interval"]),
        timeout=float(task_input["timeout"]),
        down_after=int(task_input["down_after"]),
        up_after=int(task_input["up_after"]),
        # One string per project, not per VIM: a million monitors share a few owners.
        owner=sys.intern(owner),
    )


async def _no_access(vim_id: str) -> VimAccess:
    raise ValueError("this engine cannot open VIM credentials")


class StatusHeld(ReportDeferred):
    """A change the engine will not report yet; the scheduler retries it after later probes."""


class Engine:
    def __init__(
        self,
        registry: Registry,
        transport: Transport,
        *,
        engine_id: str,
        lease_ttl: float = 5.0,
        report_timeout: float = 10.0,
        audit: MonitorAudit | None = None,
        access: LoadAccess | None = None,
        api_concurrency: int = 64,
    ) -> None:
        self.engine_id = engine_id
        self.scheduler = Scheduler(self._report_statuses)
        self._registry = registry
        self._transport = transport
        self._lease_ttl = lease_ttl
        self._report_timeout = report_timeout
        self._audit = audit
        # The execution each monitor running here belongs to, by VIM id.
        self._executions: dict[str, str] = {}
        # Executions killed during the current lease round: a round that read one before
        # its kill arrived must not start its monitor after it.
        self._killed: set[str] = set()
        self._woken = asyncio.Event()
        self._rounds: asyncio.Task[None] | None = None
        self._database_down = False
        self._renewed_at: float | None = None
        self._rounds_since_check = 0
        self.guard = IsolationGuard(owner_of=self._owner_of)
        self.scheduler.probe_observers.append(self.guard.observe)
        self._flaps = FlapDetector()
        self.isolated = False
        # The API checks of the VIMs that have one (extra.monitor.checks), and the probe
        # kind of each such VIM: only these get check records and event details.
        self.api_checks = ApiChecks(
            access or _no_access, self._api_changed, concurrency=api_concurrency
        )
        self._checked: dict[str, str] = {}
        self.check_records = CheckRecorder(
            registry, self.scheduler, self.api_checks, self._checked.get
        )

    async def start(self) -> None:
        await self.scheduler.start()
        await self.api_checks.start()
        await self.check_records.start()
        await self._transport.bind(ENGINE_ADDRESS, _NewExecutionBell(self))
        await self.lease_round()
        self._rounds = asyncio.create_task(self._lease_rounds())

    async def stop(self) -> None:
        """Stop monitoring and hand the leases back so other engines take over at once."""
        if self._rounds:
            self._rounds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rounds
        await self._transport.unbind(ENGINE_ADDRESS)
        for vim_id in list(self._executions):
            await self._stop_monitor(vim_id)
        await self.check_records.stop()
        await self.api_checks.close()
        await self.scheduler.close()
        try:
            await asyncio.to_thread(self._in_transaction, leases.leave, self.engine_id)
        except SQLAlchemyError:
            LOG.warning("could not hand back leases; they expire in %ss", self._lease_ttl)

    def running(self) -> set[str]:
        return set(self._executions)

    def execution_of(self, vim_id: str) -> str | None:
        """The execution whose monitor runs here for the VIM, if any."""
        return self._executions.get(vim_id)

    def wake(self) -> None:
        """A VIM was registered: run a lease round now rather than at the next tick."""
        self._woken.set()

    async def lease_round(self) -> None:
        """Make the monitors running here match the leases this engine holds.

        A round is incremental: it heartbeats and applies only what it claimed or
        released, since reading the whole set of a million leases every round would
        eat the engine's CPU. The whole set is read when the heartbeat may have lapsed
        (others may have claimed our VIMs meanwhile), and when a periodic count of our
        leases disagrees with the monitors running here. The round ends with the monitor
        audit (workflows.audit), which reuses its count of running executions.
        """
        self._killed.clear()
        loop = asyncio.get_running_loop()
        lapsed = self._renewed_at is None or loop.time() - self._renewed_at > self._lease_ttl
        self._rounds_since_check += 1
        check = self._rounds_since_check >= _CHECK_EVERY
        try:
            if check and not lapsed:
                self._rounds_since_check = 0
                held = await asyncio.to_thread(self._held_count)
                lapsed = held != len(self._executions)
            renewed_at = loop.time()
            if lapsed:
                held_now, running = await asyncio.to_thread(self._balance)
                stop = self._executions.keys() - held_now.keys()
                new = {v for v, e in held_now.items() if self._executions.get(v) != e}
            else:
                moves = await asyncio.to_thread(self._rebalance, len(self._executions))
                # A claimed execution of a VIM monitored here replaces the monitor of an
                # earlier execution, which is gone (see _start_monitor).
                stop, new, running = (
                    moves.released & self._executions.keys(),
                    moves.claimed,
                    moves.running,
                )
        except SQLAlchemyError as exc:
            if not self._database_down:
                LOG.warning("database unreachable, probing goes on: %s", type(exc).__name__)
            self._database_down = True
            return
        self._renewed_at = renewed_at
        if self._database_down:
            LOG.info("database reachable again")
            self._database_down = False
        for vim_id in stop:
            await self._stop_monitor(vim_id)
        await self._end_flapping()
        if new:
            for index, monitor in enumerate(await asyncio.to_thread(self._load, new)):
                await self._start_monitor(monitor)
                if index % _START_CHUNK == _START_CHUNK - 1:
                    # Starting 100,000 monitors holds the loop for seconds: let the probes
                    # that fall due meanwhile go out, rather than all of them at the end.
                    await asyncio.sleep(0)
        await self._audit_round(running)

    async def kill(self, vim_id: str, execution_id: str | None = None) -> None:
        """End one execution: stop its monitor if it runs here, and record that its task
        and execution ended cleanly. Without an execution (Tacker's kill), the one whose
        monitor runs here. A kill for another execution of the VIM than the one running
        here (an earlier one, whose kill arrived late) leaves the monitor running."""
        running = self._executions.get(vim_id)
        target = execution_id or running
        if target is None:
            return
        self._killed.add(target)
        if target == running:
            await self._stop_monitor(vim_id)
            LOG.info("monitor of VIM %s (execution %s) killed", vim_id, target)
        else:
            LOG.info("VIM %s: the kill of execution %s leaves %s running", vim_id, target, running)
        await asyncio.to_thread(self._finish, target, SUCCESS, None)

    async def _audit_round(self, running: int) -> None:
        """Give any live VIM without a running execution a new one, and wake the rounds
        so that the new executions are claimed at once rather than next round.

        A monitor still running here for a repaired VIM belongs to the execution that
        ended behind the engine's back: it stops, and the new execution's takes over.
        """
        if self._audit is None:
            return
        try:
            repaired = await asyncio.to_thread(self._audit.check, running)
        except SQLAlchemyError as exc:
            LOG.warning("monitor audit skipped: %s", type(exc).__name__)
            return
        for vim_id in repaired:
            await self._stop_monitor(vim_id)
        if repaired:
            self.wake()

    def _balance(self) -> tuple[dict[str, str], int]:
        return self._in_transaction(leases.balance, self.engine_id, utcnow(), self._lease_ttl)

    def _rebalance(self, mine: int) -> leases.Moves:
        return self._in_transaction(
            leases.rebalance, self.engine_id, utcnow(), self._lease_ttl, mine
        )

    def _held_count(self) -> int:
        with self._registry.reading() as session:
            return leases.held_count(session, self.engine_id)

    def _load(self, vim_ids: set[str]) -> list[records.RunningMonitor]:
        ordered = sorted(vim_ids)
        with self._registry.reading() as session:
            return [
                monitor
                for start in range(0, len(ordered), _LOAD_CHUNK)
                for monitor in records.running_monitors(
                    session, set(ordered[start : start + _LOAD_CHUNK])
                )
            ]

    def _finish(self, execution_id: str, state: str, info: str | None) -> None:
        self._in_transaction(records.finish_execution, execution_id, state, info)

    def _in_transaction(self, operation: Callable[[Session, *Ts], R], *args: *Ts) -> R:
        with self._registry.transaction() as session:
            return operation(session, *args)

    async def _start_monitor(self, monitor: records.RunningMonitor) -> None:
        """Start the execution's monitor; one of an earlier execution of the VIM running
        here is replaced (a VIM has one running execution, so that one has ended)."""
        if monitor.execution_id in self._killed:
            return
        if self._executions.get(monitor.vim_id) == monitor.execution_id:
            return
        try:
            spec = monitor_spec(monitor.task_input, monitor.project_id)
        except (KeyError, ValueError, VimwatchError) as exc:
            LOG.error("cannot monitor VIM %s: %s", monitor.vim_id, exc)
            await asyncio.to_thread(self._finish, monitor.execution_id, ERROR, str(exc))
            return
        await self._transport.bind(kill_address(spec.vim_id), _KillEndpoint(self, spec.vim_id))
        self._executions[spec.vim_id] = monitor.execution_id
        self.scheduler.add(spec, monitor.status)
        self.guard.watch(spec.vim_id)
        api = monitor.task_input.get("api")
        if API in monitor.task_input.get("checks", ()) and isinstance(api, dict):
            self._checked[spec.vim_id] = spec.probe
            self.api_checks.add(spec.vim_id, ApiSettings(**api))
            # No REACHABLE before the API check's first verdict.
            self.scheduler.hold(spec.vim_id, "")
        else:
            self._forget_checks(spec.vim_id)

    def _owner_of(self, vim_id: str) -> str | None:
        spec = self.scheduler.spec_of(vim_id)
        return None if spec is None else spec.owner

    def _forget_checks(self, vim_id: str) -> None:
        if self._checked.pop(vim_id, None) is not None:
            self.api_checks.remove(vim_id)
            self.check_records.forget(vim_id)

    def _api_changed(self, vim_id: str) -> None:
        """The VIM's API check turned passing or failing: its status may follow."""
        self.scheduler.hold(vim_id, self.api_checks.verdict(vim_id))

    def _details(self, vim_id: str, status: str) -> str:
        """Which check a VIM with several checks changed for, and why (no secrets: the
        checks' reasons never carry any)."""
        probe = self._checked[vim_id]
        ok, reason = self.scheduler.probe_state(vim_id) or (None, "")
        api = self.api_checks.state_of(vim_id)
        api_latency = f" ({api.latency * 1000:.0f} ms)" if api and api.latency else ""
        if status == REACHABLE:
            rtt = self.scheduler.rtt_of(vim_id)
            probe_latency = f" ({rtt * 1000:.1f} ms)" if rtt is not None else ""
            return f"{probe}: passing{probe_latency}; api: passing{api_latency}"
        failing = []
        if ok is False:
            failing.append(f"{probe}: {reason or 'failing'}")
        if api is not None and api.state == "failing":
            failing.append(f"api: {api.reason}{api_latency}")
        return "; ".join(failing) or f"{probe}: failing"

    async def _stop_monitor(self, vim_id: str) -> None:
        self._forget_checks(vim_id)
        self.guard.forget(vim_id)
        self.scheduler.remove(vim_id)
        self._flaps.forget(vim_id)
        if self._executions.pop(vim_id, None) is not None:
            await self._transport.unbind(kill_address(vim_id))

    def _check_isolation(self) -> bool:
        isolated = self.guard.isolated(len(self.scheduler))
        if isolated != self.isolated:
            self.isolated = isolated
            if isolated:
                LOG.warning(
                    "%.0f%% of this engine's probes fail at once, in every project alike: "
                    "its own network looks down; "
                    "holding UNREACHABLE changes instead of flipping the fleet",
                    100 * self.guard.failure_ratio(),
                )
            else:
                LOG.info("probes succeed again; status changes flow normally")
        return isolated

    async def _report_statuses(self, changes: list[tuple[str, str]]) -> list[str | Exception]:
        """One conductor call for the batch; UNREACHABLE changes are held back instead
        while the engine looks isolated."""
        held = any(status == UNREACHABLE for _, status in changes) and self._check_isolation()
        outcomes: list[str | Exception] = [
            StatusHeld("the engine looks isolated") if held and status == UNREACHABLE else status
            for _, status in changes
        ]
        sent = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, str)]
        if not sent:
            return outcomes
        previous = {changes[i][0]: self.scheduler.status_of(changes[i][0]) for i in sent}
        with CONDUCTOR_CALL_SECONDS.time():
            applied = await update_vims(
                self._transport,
                [
                    (vim_id, status, vim_id in self._flaps.flapping, self._details(vim_id, status))
                    if vim_id in self._checked
                    else (vim_id, status, vim_id in self._flaps.flapping)
                    for vim_id, status in (changes[i] for i in sent)
                ],
                timeout=self._report_timeout,
            )
        for i, result in zip(sent, applied, strict=True):
            vim_id, status = changes[i]
            if result is None:
                LOG.info("VIM %s no longer exists; stopping its monitor", vim_id)
                await self._stop_monitor(vim_id)
                continue
            if result == status and previous[vim_id] not in (None, PENDING):
                await self._count_change(vim_id)
            outcomes[i] = result
        return outcomes

    async def _count_change(self, vim_id: str) -> None:
        """Only applied changes count towards flapping: a retried report is one change."""
        spec = self.scheduler.spec_of(vim_id)
        now = asyncio.get_running_loop().time()
        if self._flaps.record(vim_id, now, spec.interval if spec else 1.0):
            try:
                await self._conductor_flapping(vim_id, started=True)
            except Exception:  # noqa: BLE001 - the change itself is applied; only the notice is lost
                LOG.warning("could not record that VIM %s started flapping", vim_id)

    async def _conductor_flapping(self, vim_id: str, *, started: bool) -> None:
        await self._transport.call(
            CONDUCTOR_TOPIC,
            "record_flapping",
            timeout=self._report_timeout,
            vim_id=vim_id,
            started=started,
        )

    async def _end_flapping(self) -> None:
        self._check_isolation()
        for vim_id in self._flaps.settled(asyncio.get_running_loop().time()):
            try:
                await self._conductor_flapping(vim_id, started=False)
            except Exception:  # noqa: BLE001 - a lost notice must not stop the lease round
                LOG.warning("could not record that VIM %s stopped flapping", vim_id)

    async def _lease_rounds(self) -> None:
        period = self._lease_ttl / 4
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), period)
                await asyncio.sleep(_WAKE_GATHER)
            self._woken.clear()
            try:
                await self.lease_round()
            except Exception:
                LOG.exception("lease round failed; retrying in %ss", period)
