"""How late probes leave compared with their schedule, as a compact histogram.

Slip is the one number that shows a loop falling behind before probes start timing out,
so the scheduler keeps it always; recording is per tick (not per probe), into log-spaced
buckets, so it costs nothing measurable and never grows.
"""

from __future__ import annotations

import math

_SMALLEST = 1e-4  # 0.1 ms: anything below counts as on time
_GROWTH = 1.05  # bucket edges 5 % apart: quantiles are read to within 5 %
_BUCKETS = 400  # up to about 30 minutes late
_LOG_GROWTH = math.log(_GROWTH)


class SlipHistogram:
    """Counts probes by how late they were sent; weighted, so one tick records many."""

    __slots__ = ("_counts", "total", "worst")

    def __init__(self) -> None:
        self._counts = [0] * (_BUCKETS + 1)
        self.total = 0
        self.worst = 0.0

    def record(self, slip: float, probes: int = 1) -> None:
        if slip > self.worst:
            self.worst = slip
        if slip <= _SMALLEST:
            index = 0
        else:
            index = min(_BUCKETS, 1 + int(math.log(slip / _SMALLEST) / _LOG_GROWTH))
        self._counts[index] += probes
        self.total += probes

    def quantile(self, q: float) -> float:
        """The slip that a fraction `q` of probes stayed at or below (upper bucket edge)."""
        if not self.total:
            return 0.0
        wanted = q * self.total
        seen = 0
        for index, count in enumerate(self._counts):
            seen += count
            if seen >= wanted:
                return _SMALLEST * _GROWTH**index
        return self.worst

    def at_most(self, bound: float) -> int:
        """Probes that left at most `bound` seconds late (counted whole buckets only, so
        a bound between two edges counts the probes up to the lower one)."""
        edges = 0 if bound < _SMALLEST else 1 + int(math.log(bound / _SMALLEST) / _LOG_GROWTH)
        while edges > 0 and _SMALLEST * _GROWTH**edges > bound * (1 + 1e-9):
            edges -= 1
        return sum(self._counts[: min(edges, _BUCKETS) + 1])

    def reset(self) -> None:
        self._counts = [0] * (_BUCKETS + 1)
        self.total = 0
        self.worst = 0.0
