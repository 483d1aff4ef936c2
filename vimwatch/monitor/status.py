"""Turns a stream of probe results into status changes worth reporting.

Probes lose packets now and then; a VIM must not flap to UNREACHABLE for one lost echo,
so a change needs a run of agreeing results. The tracker only proposes changes: the
conductor owns the stored status, and `settle` records what it actually applied.
"""

from __future__ import annotations

from vimwatch.contract import PENDING, REACHABLE, UNREACHABLE


class StatusTracker:
    """Consecutive-result counter with hysteresis; pure, so thresholds are cheap to test."""

    __slots__ = ("status", "down_after", "up_after", "_successes", "_failures")

    def __init__(self, status: str = PENDING, down_after: int = 3, up_after: int = 1) -> None:
        if down_after < 1 or up_after < 1:
            raise ValueError("down_after and up_after must be at least 1")
        self.status = status
        self.down_after = down_after
        self.up_after = up_after
        self._successes = 0
        self._failures = 0

    def observe(self, ok: bool) -> str | None:
        """Count one probe result; return the status it calls for when that differs from
        the agreed one. Until `settle` adopts it, every agreeing result returns it again,
        so a report that failed is retried rather than lost."""
        if ok:
            self._failures = 0
            # Capped so that a VIM up for months keeps a small int.
            if self._successes < self.up_after:
                self._successes += 1
            elif self.status == REACHABLE:
                # The steady state, once per probe of every healthy VIM: nothing to do.
                return None
        else:
            self._failures = min(self._failures + 1, self.down_after)
            self._successes = 0
        return self.wanted()

    def wanted(self) -> str | None:
        """The change the current run of results calls for, if any; lets a reporter check
        again after a settle, without waiting for the next probe."""
        if self._successes >= self.up_after:
            return None if self.status == REACHABLE else REACHABLE
        if self._failures >= self.down_after:
            return None if self.status == UNREACHABLE else UNREACHABLE
        return None

    def last_ok(self) -> bool | None:
        """Whether the latest result was a success; None before the first one."""
        if self._failures:
            return False
        return True if self._successes else None

    def settle(self, applied: str) -> None:
        self.status = applied
