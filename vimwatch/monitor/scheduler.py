"""Runs every VIM's probes on one event loop, and reports status changes.

Built to hold very many VIMs in one process. An idle monitor is one slotted object (its
own status tracker) sitting in a slot of its interval's timing wheel, with no timer and
no task of its own: the wheel fires a whole slot at a time, and the monitor itself is the
callback its probe reports to. A wheel holds the VIMs of one interval and one probe kind,
so a slot's probes go to their probe in one batch where it can take them (ICMP). Tasks
exist only while a DNS name is being resolved or a status change is being reported, both
rare.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from vimwatch.contract import PENDING, REACHABLE, UNREACHABLE
from vimwatch.errors import InvalidConfig
from vimwatch.monitor.probes import PROBES, Probe, ProbeResult, open_probe
from vimwatch.monitor.slip import SlipHistogram
from vimwatch.monitor.status import StatusTracker
from vimwatch.monitor.target import Target, is_ip_literal, resolve
from vimwatch.monitor.wheel import Wheel

log = logging.getLogger(__name__)


class ReportDeferred(Exception):
    """Raised by a reporter that chooses not to report a change yet; retried later, quietly."""


#: Reports a batch of wanted changes, (vim_id, wanted) each; answers, in the same order,
#: each change's applied status or the exception that kept it from being applied
#: (ReportDeferred to hold it quietly). Raising fails the whole batch.
ReportStatuses = Callable[[list[tuple[str, str]]], Awaitable[list["str | Exception"]]]
#: Most changes one report carries: a bounded message on a real transport.
REPORT_BATCH = 500


@dataclass(frozen=True, slots=True)
class MonitorSpec:
    vim_id: str
    target: Target
    probe: str = "icmp"
    interval: float = 1.0
    timeout: float = 1.0
    down_after: int = 3
    up_after: int = 1
    #: Who the VIM belongs to (its project): the isolation guard weighs evidence per owner.
    owner: str = ""


class _Monitor(StatusTracker):
    """One VIM: its thresholds (inherited), where it sits in the wheel, and its probe in
    flight. Called with each probe's result, so no per-VIM callback object is needed."""

    __slots__ = (
        "spec",
        "probe",
        "timeout",
        "scheduler",
        "by_name",
        "address",
        "route",
        "slot",
        "in_flight",
        "overdue",
        "stopped",
        "resolving",
        "last_rtt",
        "held",
        "reason",
    )

    def __init__(self, spec: MonitorSpec, probe: Probe, status: str, scheduler: Scheduler) -> None:
        super().__init__(status, spec.down_after, spec.up_after)
        self.spec = spec
        self.probe = probe
        # A probe outliving its interval would overlap the next one.
        self.timeout = min(spec.timeout, spec.interval)
        self.scheduler = scheduler
        host = spec.target.host
        self.by_name = not is_ip_literal(host)
        self.address: str | None = None
        self.route: int | None = None
        if not self.by_name:
            self.locate(host)
        self.slot = -1
        self.in_flight = False
        self.overdue = False
        self.stopped = False
        self.resolving: asyncio.Task[None] | None = None
        self.last_rtt: float | None = None
        # What the VIM's other checks say (Scheduler.hold): None, all pass or there are
        # none; "", one has no verdict yet; else why one fails.
        self.held: str | None = None
        # The last failed probe's reason, for the event of a change.
        self.reason = ""

    def wanted(self) -> str | None:
        """The probe's wish, overruled by another check that fails (UNREACHABLE) or has no
        verdict yet (no REACHABLE)."""
        wanted = StatusTracker.wanted(self)
        held = self.held
        if held is None:
            return wanted
        if held == "":
            return None if wanted == REACHABLE else wanted
        return None if self.status == UNREACHABLE else UNREACHABLE

    def locate(self, address: str | None) -> None:
        """Where to probe next (None: resolve the name first); and the probe's own form of
        it, for launching in a batch, when the probe launches in batches."""
        self.address = address
        route = getattr(self.probe, "route", None)
        self.route = None if address is None or route is None else route(address)

    def __call__(self, result: ProbeResult) -> None:
        """The probe's report: count the result, and report or re-probe if due."""
        if result.ok:
            assert result.rtt is not None, "an answered probe has a round trip"
            self.answered(result.rtt)
            return
        if self.stopped:
            return
        self.in_flight = False
        self.reason = result.reason
        for tell in self.scheduler.probe_observers:
            tell(self.spec.vim_id, result)
        self.scheduler.probe_lost(self, result)
        if self.observe(False) is not None:
            self.scheduler.report_due(self)
        if self.overdue:
            self.overdue = False
            self.scheduler.launch(self)

    def answered(self, rtt: float) -> None:
        """A successful probe's report, which a batching probe makes without building a
        ProbeResult; built here only for observers."""
        if self.stopped:
            return
        self.in_flight = False
        observers = self.scheduler.probe_observers
        if observers:
            result = ProbeResult(True, rtt, "")
            for tell in observers:
                tell(self.spec.vim_id, result)
        self.last_rtt = rtt
        # A failing other check keeps asking (a failed report is retried this way).
        if self.observe(True) is not None or self.held:
            self.scheduler.report_due(self)
        if self.overdue:
            self.overdue = False
            self.scheduler.launch(self)


def _is_live(monitor: _Monitor) -> bool:
    return not monitor.stopped


class Scheduler:
    """Probes each VIM every `interval` and reports the status changes that are due to
    `report_statuses`, which answers the status the conductor applied to each.

    Changes that fall due in the same turn of the loop go in one report: when ten
    thousand new VIMs answer their first probe, or a thousand behind one link stop
    answering, a task and a conductor call per VIM were most of the loop's work. Each VIM
    still has at most one report in flight.

    `probes` replaces the probes `start` would open (tests use fakes); the caller keeps
    ownership of those and closes them itself. `slip` tells how late probes left against
    their schedule: the first sign of a loop that has more VIMs than it can carry.
    """

    def __init__(
        self, report_statuses: ReportStatuses, *, probes: Mapping[str, Probe] | None = None
    ) -> None:
        self._report_statuses = report_statuses
        self._given_probes = dict(probes) if probes is not None else None
        self._probes: dict[str, Probe] = {}
        self._owned: list[Probe] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitors: dict[str, _Monitor] = {}
        self._wheels: dict[tuple[float, Probe], Wheel[_Monitor]] = {}
        # VIMs with a report queued or in flight, and the queue the next flush sends.
        self._reports: set[str] = set()
        self._queued: list[tuple[_Monitor, str]] = []
        self._flush: asyncio.Handle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.slip = SlipHistogram()
        self.probes_sent = 0
        self.probes_lost = 0
        self.reports_failed = 0
        self.reports_deferred = 0
        self._failing_reports: set[str] = set()
        # Called with (vim_id, result) after every probe, on the loop: must not block.
        self.probe_observers: list[Callable[[str, ProbeResult], None]] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._given_probes is not None:
            self._probes = self._given_probes
            return
        for kind in PROBES:
            probe = await open_probe(kind)
            self._probes[kind] = probe
            self._owned.append(probe)

    async def close(self) -> None:
        for monitor in self._monitors.values():
            self._stop(monitor)
        self._monitors.clear()
        for wheel in self._wheels.values():
            wheel.close()
        self._wheels.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A report task cancelled before its first step never reaches its cleanup.
        self._reports.clear()
        self._queued.clear()
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        owned, self._owned = self._owned, []
        for probe in owned:
            await probe.close()
        self._probes = {}
        self._loop = None

    def add(self, spec: MonitorSpec, status: str = PENDING) -> None:
        if self._loop is None:
            raise RuntimeError("Scheduler.start() must be awaited before add()")
        probe = self._probes.get(spec.probe)
        if probe is None:
            raise InvalidConfig(f"VIM {spec.vim_id}: unknown probe kind {spec.probe!r}")
        if not (spec.interval > 0 and spec.timeout > 0):
            raise InvalidConfig(f"VIM {spec.vim_id}: interval and timeout must be positive")
        try:
            monitor = _Monitor(spec, probe, status, self)
        except ValueError as exc:
            raise InvalidConfig(f"VIM {spec.vim_id}: {exc}") from exc
        self.remove(spec.vim_id)
        key = (spec.interval, probe)
        wheel = self._wheels.get(key)
        if wheel is None:
            fire = partial(self._fire, getattr(probe, "start_many", None))
            wheel = Wheel(self._loop, spec.interval, fire, _is_live, self.slip)
            self._wheels[key] = wheel
        monitor.slot = wheel.place(monitor)
        self._monitors[spec.vim_id] = monitor

    def remove(self, vim_id: str) -> bool:
        monitor = self._monitors.pop(vim_id, None)
        if monitor is None:
            return False
        self._stop(monitor)
        key = (monitor.spec.interval, monitor.probe)
        wheel = self._wheels.get(key)
        if wheel is not None:
            wheel.vacate(monitor.slot)
            if not wheel.members:
                del self._wheels[key]
        return True

    def __contains__(self, vim_id: object) -> bool:
        return vim_id in self._monitors

    def __len__(self) -> int:
        return len(self._monitors)

    def status_of(self, vim_id: str) -> str | None:
        monitor = self._monitors.get(vim_id)
        return None if monitor is None else monitor.status

    def spec_of(self, vim_id: str) -> MonitorSpec | None:
        monitor = self._monitors.get(vim_id)
        return None if monitor is None else monitor.spec

    def hold(self, vim_id: str, verdict: str | None) -> None:
        """Set what the VIM's other checks say (see _Monitor.held), and report the change
        that now calls for, if any."""
        monitor = self._monitors.get(vim_id)
        if monitor is None:
            return
        monitor.held = verdict
        self.report_due(monitor)

    def probe_state(self, vim_id: str) -> tuple[bool | None, str] | None:
        """Whether the VIM's last probe succeeded (None before its first), and the last
        failed probe's reason."""
        monitor = self._monitors.get(vim_id)
        if monitor is None:
            return None
        return monitor.last_ok(), monitor.reason

    def rtt_of(self, vim_id: str) -> float | None:
        """Round-trip time of the VIM's last successful probe, in seconds."""
        monitor = self._monitors.get(vim_id)
        return None if monitor is None else monitor.last_rtt

    def _stop(self, monitor: _Monitor) -> None:
        monitor.stopped = True
        self._failing_reports.discard(monitor.spec.vim_id)
        if monitor.resolving is not None:
            monitor.resolving.cancel()
            monitor.resolving = None

    def _fire(
        self, start_many: Callable[[Sequence[_Monitor]], None] | None, monitors: list[_Monitor]
    ) -> None:
        """Launch one slot's probes (all of one probe, which has `start_many` or not); the
        hot path, so the common case is inlined."""
        launched = 0
        batch = []
        for monitor in monitors:
            if monitor.in_flight:
                # Timeout equal to the interval makes the tick and the expiry race; probe
                # as soon as the previous one ends instead of dropping this tick.
                monitor.overdue = True
                continue
            monitor.in_flight = True
            launched += 1
            if monitor.route is not None:
                batch.append(monitor)
            elif monitor.address is None:
                monitor.resolving = self._spawn(self._resolve_and_probe(monitor))
            else:
                monitor.probe.start(monitor.spec.target, monitor.address, monitor.timeout, monitor)
        self.probes_sent += launched
        if batch:
            # Only a probe with start_many routes its monitors (see locate).
            assert start_many is not None
            start_many(batch)

    def launch(self, monitor: _Monitor) -> None:
        """Probe `monitor` now (its probe reported before the interval was over)."""
        monitor.in_flight = True
        self.probes_sent += 1
        if monitor.address is None:
            monitor.resolving = self._spawn(self._resolve_and_probe(monitor))
        else:
            monitor.probe.start(monitor.spec.target, monitor.address, monitor.timeout, monitor)

    async def _resolve_and_probe(self, monitor: _Monitor) -> None:
        host = monitor.spec.target.host
        try:
            async with asyncio.timeout(monitor.timeout):
                address = await resolve(host)
        except OSError as exc:
            monitor.resolving = None
            reason = "timeout" if isinstance(exc, TimeoutError) else str(exc)
            monitor(ProbeResult(False, None, f"cannot resolve {host}: {reason}"))
            return
        monitor.resolving = None
        monitor.locate(address)
        monitor.probe.start(monitor.spec.target, address, monitor.timeout, monitor)

    def probe_lost(self, monitor: _Monitor, result: ProbeResult) -> None:
        """Count a failed probe of `monitor`."""
        self.probes_lost += 1
        if monitor.by_name:
            # The VIM may have moved; look its name up again before the next probe.
            monitor.locate(None)
        log.debug("VIM %s probe failed: %s", monitor.spec.vim_id, result.reason)

    def report_due(self, monitor: _Monitor) -> None:
        """Queue the status `monitor` wants reported, unless it has one in flight; the
        reports due in one turn of the loop leave together."""
        vim_id = monitor.spec.vim_id
        if vim_id in self._reports:
            # One report at a time per VIM; a later probe or the settle repeats the wish.
            return
        wanted = monitor.wanted()
        if wanted is None:
            return
        self._reports.add(vim_id)
        self._queued.append((monitor, wanted))
        if self._flush is None:
            assert self._loop is not None, "reports arrive only while the scheduler runs"
            self._flush = self._loop.call_soon(self._send_queued)

    def _send_queued(self) -> None:
        self._flush = None
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), REPORT_BATCH):
            self._spawn(self._send_reports(queued[start : start + REPORT_BATCH]))

    async def _send_reports(self, batch: list[tuple[_Monitor, str]]) -> None:
        try:
            live = [(monitor, wanted) for monitor, wanted in batch if not monitor.stopped]
            outcomes: list[str | Exception] = []
            if live:
                changes = [(monitor.spec.vim_id, wanted) for monitor, wanted in live]
                try:
                    outcomes = await self._report_statuses(changes)
                    if len(outcomes) != len(changes):
                        raise RuntimeError(f"{len(outcomes)} answers to {len(changes)} changes")
                except Exception as exc:  # the whole batch failed; each VIM retries
                    outcomes = [exc] * len(live)
        finally:
            for monitor, _ in batch:
                self._reports.discard(monitor.spec.vim_id)
        for (monitor, wanted), outcome in zip(live, outcomes, strict=True):
            if self._settle_report(monitor, wanted, outcome):
                # Probes that ran during the report may already call for another change.
                self.report_due(monitor)

    def _settle_report(self, monitor: _Monitor, wanted: str, outcome: str | Exception) -> bool:
        """Whether the VIM's monitor adopted the applied status."""
        vim_id = monitor.spec.vim_id
        if isinstance(outcome, ReportDeferred):
            # On purpose, and for many VIMs at once: one line each would flood the log.
            self.reports_deferred += 1
            return False
        if isinstance(outcome, Exception):
            # Retried by the next probe that agrees; the monitor itself must live on. Said
            # once per run of failures: an outage of the conductor must not flood the log.
            self.reports_failed += 1
            first = vim_id not in self._failing_reports
            self._failing_reports.add(vim_id)
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "VIM %s: reporting %s failed (retried after later probes): %s",
                vim_id,
                wanted,
                str(outcome).splitlines()[0] if str(outcome) else type(outcome).__name__,
            )
            return False
        self._failing_reports.discard(vim_id)
        if monitor.stopped:
            return False
        monitor.settle(outcome)
        return True

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        assert self._loop is not None, "tasks start only while the scheduler runs"
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
