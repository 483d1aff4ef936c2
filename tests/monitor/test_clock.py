"""Scheduling runs on the monotonic clock: a wall clock that jumps changes nothing."""

from __future__ import annotations

import asyncio
import time

from vimwatch.monitor.probes.base import ProbeResult
from vimwatch.monitor.scheduler import MonitorSpec, Scheduler
from vimwatch.monitor.target import target_from_auth_url


class RecordingProbe:
    kind = "icmp"

    def __init__(self) -> None:
        self.fired: list[float] = []

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def start(self, target, address, timeout, report) -> None:  # noqa: ANN001
        self.fired.append(asyncio.get_running_loop().time())
        report(ProbeResult(True, 0.001, ""))


async def test_probes_keep_their_cadence_when_the_wall_clock_jumps(monkeypatch) -> None:
    probe = RecordingProbe()

    async def report(changes: list[tuple[str, str]]) -> list[str]:
        return [status for _, status in changes]

    scheduler = Scheduler(report, probes={"icmp": probe})
    await scheduler.start()
    spec = MonitorSpec(
        vim_id="v", target=target_from_auth_url("http://127.0.0.1/"), interval=0.1, timeout=0.1
    )
    scheduler.add(spec)
    await asyncio.sleep(0.5)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    await asyncio.sleep(0.5)
    monkeypatch.setattr(time, "time", lambda: real() - 7200)
    await asyncio.sleep(0.5)
    await scheduler.close()

    gaps = [b - a for a, b in zip(probe.fired, probe.fired[1:], strict=False)]
    assert 13 <= len(probe.fired) <= 17
    assert all(0.05 < gap < 0.2 for gap in gaps), gaps
    assert scheduler.status_of("v") is None
