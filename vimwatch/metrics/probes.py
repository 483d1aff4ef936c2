"""What the engine saw of each VIM's probes: round-trip histograms and the latest results.

Fed by the scheduler once per probe result, so it must be cheap in time and in memory at
100,000 VIMs: one slotted object per VIM holding flat arrays, no per-probe allocation.
The latest results feed the dashboard's sparklines; the histograms feed /metrics.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Container
from dataclasses import dataclass

from vimwatch.monitor.probes import ProbeResult

RTT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
RECENT = 30  # probe results kept per VIM for the sparkline


class RttHistogram:
    """Cumulative-on-read bucket counts of successful probes' round-trip times."""

    __slots__ = ("counts", "total", "observed")

    def __init__(self) -> None:
        self.counts = array("Q", bytes(8 * (len(RTT_BUCKETS) + 1)))
        self.total = 0.0
        self.observed = 0

    def observe(self, rtt: float) -> None:
        self.counts[bisect.bisect_left(RTT_BUCKETS, rtt)] += 1
        self.total += rtt
        self.observed += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """Buckets the way Prometheus wants them: `le` upper bounds, counts accumulated."""
        running, out = 0, []
        for bound, count in zip((*RTT_BUCKETS, math.inf), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == math.inf else repr(bound), running))
        return out


class _VimProbes:
    __slots__ = ("rtt", "recent", "next")

    def __init__(self) -> None:
        self.rtt = RttHistogram()
        # NaN marks a failed probe; a slot never written is skipped on read.
        self.recent = array("f", [-1.0] * RECENT)
        self.next = 0


@dataclass(frozen=True)
class RecentProbe:
    ok: bool
    rtt_ms: float | None


class ProbeStats:
    """A scheduler probe observer: `scheduler.probe_observers.append(stats.record)`."""

    def __init__(self) -> None:
        self.fleet = RttHistogram()
        self._vims: dict[str, _VimProbes] = {}

    def record(self, vim_id: str, result: ProbeResult) -> None:
        vim = self._vims.get(vim_id)
        if vim is None:
            vim = self._vims[vim_id] = _VimProbes()
        if result.ok and result.rtt is not None:
            vim.rtt.observe(result.rtt)
            self.fleet.observe(result.rtt)
            vim.recent[vim.next] = result.rtt * 1000.0
        else:
            vim.recent[vim.next] = math.nan
        vim.next = (vim.next + 1) % RECENT

    def recent(self, vim_id: str) -> list[RecentProbe]:
        """The VIM's latest probe results, oldest first."""
        vim = self._vims.get(vim_id)
        if vim is None:
            return []
        ordered = [*vim.recent[vim.next :], *vim.recent[: vim.next]]
        return [
            RecentProbe(False, None) if math.isnan(v) else RecentProbe(True, round(v, 3))
            for v in ordered
            if math.isnan(v) or v >= 0
        ]

    def per_vim(self) -> list[tuple[str, RttHistogram]]:
        """A snapshot: scrapes run in a thread while the loop keeps recording."""
        return [(vim_id, vim.rtt) for vim_id, vim in list(self._vims.items())]

    def forget_all_but(self, monitored: Container[str]) -> None:
        """Drop VIMs whose monitor stopped here (deleted, or moved to another engine)."""
        for vim_id in [v for v in list(self._vims) if v not in monitored]:
            self._vims.pop(vim_id, None)
