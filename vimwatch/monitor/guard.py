"""Noticing that the monitor itself is cut off, rather than every VIM at once.

When nearly every VIM an engine probes fails at the same time, the likelier story is that
the engine's own network is down (as in the Kubernetes "all nodes NotReady" incidents),
not that the whole fleet died in the same second. The guard keeps the set of VIMs whose
latest probe failed - normally a handful, so it costs next to nothing at a million VIMs -
and compares its size with the number of VIMs monitored.
"""

from __future__ import annotations

from vimwatch.monitor.probes.base import ProbeResult


class IsolationGuard:
    def __init__(self, threshold: float = 0.9, min_monitors: int = 10) -> None:
        self.threshold = threshold
        self.min_monitors = min_monitors
        self._failing: set[str] = set()

    def observe(self, vim_id: str, result: ProbeResult) -> None:
        """A scheduler probe observer."""
        if result.ok:
            self._failing.discard(vim_id)
        else:
            self._failing.add(vim_id)

    def forget(self, vim_id: str) -> None:
        self._failing.discard(vim_id)

    def failure_ratio(self, monitors: int) -> float:
        return len(self._failing) / monitors if monitors else 0.0

    def isolated(self, monitors: int) -> bool:
        """True when this engine probes enough VIMs and nearly all of them fail now."""
        return monitors >= self.min_monitors and self.failure_ratio(monitors) >= self.threshold
