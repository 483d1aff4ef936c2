"""Runs every VIM's probes on one event loop, and reports status changes.

Built to hold very many VIMs in one process: an idle monitor is a small slotted object
plus one timer handle on the loop's heap, with no task of its own. Tasks exist only while
a DNS name is being resolved or a status change is being reported, both rare.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from vimwatch.errors import InvalidConfig
from vimwatch.monitor.probes import PROBES, Probe, ProbeResult, open_probe
from vimwatch.monitor.status import PENDING, StatusTracker
from vimwatch.monitor.target import Target, is_ip_literal, resolve

log = logging.getLogger(__name__)

ReportStatus = Callable[[str, str], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class MonitorSpec:
    vim_id: str
    target: Target
    probe: str = "icmp"
    interval: float = 1.0
    timeout: float = 1.0
    down_after: int = 3
    up_after: int = 1


class _Monitor:
    __slots__ = (
        "spec",
        "probe",
        "timeout",
        "tracker",
        "by_name",
        "address",
        "next_due",
        "timer",
        "in_flight",
        "overdue",
        "resolving",
        "stopped",
        "last_rtt",
        "on_result",
    )

    def __init__(self, spec: MonitorSpec, probe: Probe, status: str) -> None:
        self.spec = spec
        self.probe = probe
        # A probe outliving its interval would overlap the next one.
        self.timeout = min(spec.timeout, spec.interval)
        self.tracker = StatusTracker(status, spec.down_after, spec.up_after)
        host = spec.target.host
        self.by_name = not is_ip_literal(host)
        self.address: str | None = None if self.by_name else host
        self.next_due = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.in_flight = False
        self.overdue = False
        self.resolving: asyncio.Task[None] | None = None
        self.stopped = False
        self.last_rtt: float | None = None
        self.on_result: Callable[[ProbeResult], None] | None = None


class Scheduler:
    """Probes each VIM every `interval` and calls `report_status(vim_id, wanted)` when a
    status change is due; what it returns is the status the conductor applied.

    `probes` replaces the probes `start` would open (tests use fakes); the caller keeps
    ownership of those and closes them itself.
    """

    def __init__(
        self, report_status: ReportStatus, *, probes: Mapping[str, Probe] | None = None
    ) -> None:
        self._report_status = report_status
        self._given_probes = dict(probes) if probes is not None else None
        self._probes: dict[str, Probe] = {}
        self._owned: list[Probe] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitors: dict[str, _Monitor] = {}
        self._reports: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.probes_sent = 0
        self.probes_lost = 0
        self.reports_failed = 0
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
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A report task cancelled before its first step never reaches its cleanup.
        self._reports.clear()
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
            monitor = _Monitor(spec, probe, status)
        except ValueError as exc:
            raise InvalidConfig(f"VIM {spec.vim_id}: {exc}") from exc
        self.remove(spec.vim_id)
        monitor.on_result = functools.partial(self._on_result, monitor)
        monitor.next_due = self._loop.time()
        monitor.timer = self._loop.call_at(monitor.next_due, self._fire, monitor)
        self._monitors[spec.vim_id] = monitor

    def remove(self, vim_id: str) -> bool:
        monitor = self._monitors.pop(vim_id, None)
        if monitor is None:
            return False
        self._stop(monitor)
        return True

    def __contains__(self, vim_id: object) -> bool:
        return vim_id in self._monitors

    def __len__(self) -> int:
        return len(self._monitors)

    def status_of(self, vim_id: str) -> str | None:
        monitor = self._monitors.get(vim_id)
        return None if monitor is None else monitor.tracker.status

    def rtt_of(self, vim_id: str) -> float | None:
        """Round-trip time of the VIM's last successful probe, in seconds."""
        monitor = self._monitors.get(vim_id)
        return None if monitor is None else monitor.last_rtt

    def _stop(self, monitor: _Monitor) -> None:
        monitor.stopped = True
        if monitor.timer is not None:
            monitor.timer.cancel()
            monitor.timer = None
        if monitor.resolving is not None:
            monitor.resolving.cancel()
            monitor.resolving = None

    def _fire(self, monitor: _Monitor) -> None:
        interval = monitor.spec.interval
        now = self._loop.time()
        due = monitor.next_due + interval
        if due <= now:
            # Late by more than an interval (a stalled loop): skip the missed ticks rather
            # than fire them all at once.
            due += (math.floor((now - due) / interval) + 1) * interval
        monitor.next_due = due
        monitor.timer = self._loop.call_at(due, self._fire, monitor)
        if monitor.in_flight:
            # Timeout equal to the interval makes the timer and the expiry race; probe as
            # soon as the previous one ends instead of dropping this tick.
            monitor.overdue = True
            return
        self._launch(monitor)

    def _launch(self, monitor: _Monitor) -> None:
        monitor.in_flight = True
        self.probes_sent += 1
        if monitor.address is None:
            monitor.resolving = self._spawn(self._resolve_and_probe(monitor))
        else:
            monitor.probe.start(
                monitor.spec.target, monitor.address, monitor.timeout, monitor.on_result
            )

    async def _resolve_and_probe(self, monitor: _Monitor) -> None:
        host = monitor.spec.target.host
        try:
            async with asyncio.timeout(monitor.timeout):
                address = await resolve(host)
        except OSError as exc:
            monitor.resolving = None
            reason = "timeout" if isinstance(exc, TimeoutError) else str(exc)
            self._on_result(monitor, ProbeResult(False, None, f"cannot resolve {host}: {reason}"))
            return
        monitor.resolving = None
        monitor.address = address
        monitor.probe.start(monitor.spec.target, address, monitor.timeout, monitor.on_result)

    def _on_result(self, monitor: _Monitor, result: ProbeResult) -> None:
        if monitor.stopped:
            return
        monitor.in_flight = False
        for observe in self.probe_observers:
            observe(monitor.spec.vim_id, result)
        if result.ok:
            monitor.last_rtt = result.rtt
        else:
            self.probes_lost += 1
            if monitor.by_name:
                # The VIM may have moved; look its name up again before the next probe.
                monitor.address = None
            log.debug("VIM %s probe failed: %s", monitor.spec.vim_id, result.reason)
        if monitor.tracker.observe(result.ok) is not None:
            self._report(monitor)
        if monitor.overdue:
            monitor.overdue = False
            self._launch(monitor)

    def _report(self, monitor: _Monitor) -> None:
        vim_id = monitor.spec.vim_id
        if vim_id in self._reports:
            # One report at a time per VIM; a later probe or the settle repeats the wish.
            return
        wanted = monitor.tracker.wanted()
        if wanted is not None:
            self._reports[vim_id] = self._spawn(self._send_report(monitor, wanted))

    async def _send_report(self, monitor: _Monitor, wanted: str) -> None:
        vim_id = monitor.spec.vim_id
        settled = False
        try:
            if monitor.stopped:
                return
            applied = await self._report_status(vim_id, wanted)
            if not monitor.stopped:
                monitor.tracker.settle(applied)
                settled = True
        except Exception as exc:
            # Retried by the next probe that agrees; the monitor itself must live on.
            self.reports_failed += 1
            log.warning("VIM %s: reporting %s failed: %s", vim_id, wanted, exc)
        finally:
            del self._reports[vim_id]
        if settled:
            # Probes that ran during the report may already call for another change.
            self._report(monitor)

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
