"""Telling a flapping VIM from one that changed state, the way Icinga does.

Each status change of a VIM is remembered for 21 probe intervals. The weighted share of
those intervals that saw a change (recent changes weigh 1.2, the oldest 0.8) is its
percent state change: at 30 % or more the VIM is flapping, and it stops flapping below
25 %. Only VIMs that changed recently have any state here, so a quiet fleet costs nothing.
"""

from __future__ import annotations

from collections import deque

SAMPLES = 21
HIGH, LOW = 30.0, 25.0


class FlapDetector:
    def __init__(self) -> None:
        self._changes: dict[str, tuple[float, deque[float]]] = {}
        self.flapping: set[str] = set()

    def __len__(self) -> int:
        """How many VIMs have recent changes (and so any state here at all)."""
        return len(self._changes)

    def percent(self, vim_id: str, now: float) -> float:
        entry = self._changes.get(vim_id)
        if entry is None:
            return 0.0
        interval, changes = entry
        window = SAMPLES * interval
        while changes and now - changes[0] > window:
            changes.popleft()
        weights = sum(1.2 - 0.4 * (now - moment) / window for moment in changes)
        return 100.0 * weights / (SAMPLES - 1)

    def record(self, vim_id: str, now: float, interval: float) -> bool:
        """Count a status change; True when it makes the VIM start flapping."""
        _, changes = self._changes.setdefault(vim_id, (interval, deque()))
        changes.append(now)
        if vim_id in self.flapping or self.percent(vim_id, now) < HIGH:
            return False
        self.flapping.add(vim_id)
        return True

    def settled(self, now: float) -> list[str]:
        """VIMs that stopped flapping; quiet ones are forgotten altogether."""
        percents = {vim_id: self.percent(vim_id, now) for vim_id in list(self._changes)}
        calmed = [v for v in self.flapping if percents[v] < LOW]
        self.flapping.difference_update(calmed)
        for vim_id, percent in percents.items():
            if percent == 0.0 and vim_id not in self.flapping:
                del self._changes[vim_id]
        return calmed

    def forget(self, vim_id: str) -> None:
        self._changes.pop(vim_id, None)
        self.flapping.discard(vim_id)
