"""Running one probe to completion, and checking it keeps the report-once promise."""

from __future__ import annotations

import asyncio

from vimwatch.monitor.probes.base import Probe, ProbeResult
from vimwatch.monitor.target import Target


async def probe_once(
    probe: Probe, target: Target, address: str, timeout: float, linger: float = 0.0
) -> ProbeResult:
    """Wait for the report, then `linger` more seconds to catch a second report."""
    reports: list[ProbeResult] = []
    done = asyncio.Event()

    def report(result: ProbeResult) -> None:
        reports.append(result)
        done.set()

    probe.start(target, address, timeout, report)
    async with asyncio.timeout(timeout + 2.0):
        await done.wait()
    await asyncio.sleep(linger)
    assert len(reports) == 1, f"reported {len(reports)} times: {reports}"
    return reports[0]


def pending_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """Timers still armed on the loop: a closed probe must leave none behind."""
    return [handle for handle in loop._scheduled if not handle.cancelled()]  # type: ignore[attr-defined]
