"""Noticing that the monitor itself is cut off, rather than every VIM at once.

When nearly every VIM an engine probes fails at the same time, the likelier story is that
the engine's own network is down (as in the Kubernetes "all nodes NotReady" incidents),
not that the whole fleet died in the same second.

The evidence is weighed per owner (project), since any tenant can register hundreds of
VIMs whose targets never answer. The engine looks isolated when
- the mean of the owners' failure ratios reaches the threshold, each owner counting
  once whatever the number of its VIMs, so one tenant moves it by one owner's share; and
- with several owners, at least three of them are failing nearly wholesale: with two,
  one could be the tenant faking the evidence, so their failures are believed as two
  outages rather than held as one isolation.
With a single owner (an operator's own fleet) the rule is the plain fleet-wide ratio.
The guard keeps only the VIMs whose latest probe failed - normally a handful, so it
costs next to nothing at a million VIMs - and a count of monitors per owner.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from vimwatch.monitor.probes.base import ProbeResult


class IsolationGuard:
    def __init__(
        self,
        owner_of: Callable[[str], str | None] = lambda vim_id: "",
        threshold: float = 0.9,
        min_monitors: int = 10,
        min_failing_owners: int = 3,
    ) -> None:
        self.threshold = threshold
        self.min_monitors = min_monitors
        self.min_failing_owners = min_failing_owners
        self._owner_of = owner_of
        self._failing: dict[str, str] = {}
        self._failing_per_owner: Counter[str] = Counter()
        self._monitors_per_owner: Counter[str] = Counter()

    def watch(self, vim_id: str) -> None:
        """A monitor of `vim_id` started; its owner is asked of `owner_of` now."""
        owner = self._owner_of(vim_id)
        if owner is not None:
            self._monitors_per_owner[owner] += 1

    def forget(self, vim_id: str) -> None:
        """The monitor stops; call while `owner_of` still knows the VIM."""
        self._recover(vim_id)
        owner = self._owner_of(vim_id)
        if owner is not None and self._monitors_per_owner[owner] > 0:
            self._monitors_per_owner[owner] -= 1
            if not self._monitors_per_owner[owner]:
                del self._monitors_per_owner[owner]

    def observe(self, vim_id: str, result: ProbeResult) -> None:
        """A scheduler probe observer."""
        if result.ok:
            self._recover(vim_id)
        elif vim_id not in self._failing:
            owner = self._owner_of(vim_id)
            if owner is not None:
                self._failing[vim_id] = owner
                self._failing_per_owner[owner] += 1

    def failure_ratio(self) -> float:
        """The mean over owners of the share of their VIMs failing now."""
        if not self._monitors_per_owner:
            return 0.0
        return sum(self._owner_ratios()) / len(self._monitors_per_owner)

    def isolated(self, monitors: int) -> bool:
        """True when this engine probes enough VIMs and nearly all of every owner's fail."""
        if monitors < self.min_monitors or self.failure_ratio() < self.threshold:
            return False
        if len(self._monitors_per_owner) == 1:
            return True
        wholesale = sum(ratio >= self.threshold for ratio in self._owner_ratios())
        return wholesale >= self.min_failing_owners

    def _owner_ratios(self) -> list[float]:
        """Failure ratios of the owners with a VIM failing (the others' are 0)."""
        return [
            min(count / self._monitors_per_owner[owner], 1.0)
            for owner, count in self._failing_per_owner.items()
            if self._monitors_per_owner[owner]
        ]

    def _recover(self, vim_id: str) -> None:
        owner = self._failing.pop(vim_id, None)
        if owner is not None:
            self._failing_per_owner[owner] -= 1
            if not self._failing_per_owner[owner]:
                del self._failing_per_owner[owner]
