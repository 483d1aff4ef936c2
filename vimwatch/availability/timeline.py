"""What a VIM's status history says about a time window, as plain arithmetic.

A history is a list of transitions in the order they happened: (time, status), where the
first is the VIM's registration (PENDING) and a status of None is its deletion. Between
two transitions the VIM holds the earlier one's status. Time spent PENDING or inside a
maintenance window is left out of the ratio and reported apart, so that a VIM nobody has
probed yet, or one its operators took down on purpose, does not count as down.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

REACHABLE = "REACHABLE"
UNREACHABLE = "UNREACHABLE"
PENDING = "PENDING"

Transition = tuple[datetime, str | None]
Interval = tuple[datetime, datetime]


@dataclass
class Availability:
    """Seconds by kind within [since, until), and the outages among them. An outage is a
    stretch of counted downtime: one split by a maintenance window is two outages."""

    since: datetime
    until: datetime
    up_seconds: float = 0.0
    down_seconds: float = 0.0
    pending_seconds: float = 0.0
    maintenance_seconds: float = 0.0
    outages: int = 0
    longest_outage_seconds: float = 0.0
    # The outages touching `since` and `until` (0 if none), and whether one outage covers
    # the whole period: what joining adjacent periods (daily roll-ups) needs to count an
    # outage that crosses their boundary once, at its full length.
    leading_down_seconds: float = 0.0
    trailing_down_seconds: float = 0.0
    wholly_down: bool = False

    @property
    def ratio(self) -> float | None:
        """Up over up plus down; None when the window held no counted time at all."""
        counted = self.up_seconds + self.down_seconds
        return self.up_seconds / counted if counted else None

    @property
    def mean_time_to_recovery_seconds(self) -> float | None:
        return self.down_seconds / self.outages if self.outages else None

    def add(self, other: Availability) -> None:
        """Sum another VIM's figures into these (a project's or the fleet's)."""
        self.up_seconds += other.up_seconds
        self.down_seconds += other.down_seconds
        self.pending_seconds += other.pending_seconds
        self.maintenance_seconds += other.maintenance_seconds
        self.outages += other.outages
        self.longest_outage_seconds = max(self.longest_outage_seconds, other.longest_outage_seconds)

    def view(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(sep=" "),
            "until": self.until.isoformat(sep=" "),
            "ratio": self.ratio,
            "up_seconds": round(self.up_seconds, 3),
            "down_seconds": round(self.down_seconds, 3),
            "pending_seconds": round(self.pending_seconds, 3),
            "maintenance_seconds": round(self.maintenance_seconds, 3),
            "outages": self.outages,
            "mean_time_to_recovery_seconds": _rounded(self.mean_time_to_recovery_seconds),
            "longest_outage_seconds": round(self.longest_outage_seconds, 3),
        }


@dataclass
class _Outage:
    """The outage being walked through, if any, and where its counted time ends."""

    ends_at: datetime | None = None
    started_at: datetime | None = None
    length: float = 0.0
    lengths: list[float] = field(default_factory=list)
    leading: float = 0.0


def availability(
    history: Sequence[Transition],
    maintenance: Iterable[Interval],
    since: datetime,
    until: datetime,
) -> Availability:
    """The figures of one VIM over [since, until). `history` may start before `since`
    (the transition in force at `since` must be in it) and `maintenance` may hold
    overlapping or unordered intervals."""
    result = Availability(since, until)
    windows = merged(maintenance, since, until)
    outage = _Outage()
    for start, end, status in _spans(history, since, until):
        for piece_start, piece_end, in_maintenance in _split(start, end, windows):
            seconds = (piece_end - piece_start).total_seconds()
            if in_maintenance:
                result.maintenance_seconds += seconds
            elif status == UNREACHABLE:
                result.down_seconds += seconds
                if outage.ends_at != piece_start:
                    _close(outage, since)
                    outage.started_at = piece_start
                outage.length += seconds
                outage.ends_at = piece_end
            elif status == REACHABLE:
                result.up_seconds += seconds
            else:
                result.pending_seconds += seconds
    trailing = outage.length if outage.ends_at == until else 0.0
    wholly = outage.started_at == since and outage.ends_at == until
    _close(outage, since)
    result.outages = len(outage.lengths)
    result.longest_outage_seconds = max(outage.lengths, default=0.0)
    result.leading_down_seconds = outage.leading
    result.trailing_down_seconds = trailing
    result.wholly_down = wholly
    return result


def merged(intervals: Iterable[Interval], since: datetime, until: datetime) -> list[Interval]:
    """The intervals clipped to [since, until), sorted, overlapping ones joined."""
    clipped = sorted(
        (max(start, since), min(end, until)) for start, end in intervals if start < until
    )
    joined: list[Interval] = []
    for start, end in clipped:
        if end <= start:
            continue
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def _spans(
    history: Sequence[Transition], since: datetime, until: datetime
) -> Iterable[tuple[datetime, datetime, str]]:
    """(start, end, status) of each stretch the VIM existed, clipped to the window and
    non-empty; transitions at one instant leave only the last in force."""
    ends = [at for at, _ in history[1:]] + [until]
    for (at, status), next_at in zip(history, ends[: len(history)], strict=True):
        start, end = max(at, since), min(next_at, until)
        if status is not None and start < end:
            yield start, end, status


def _split(
    start: datetime, end: datetime, windows: list[Interval]
) -> Iterable[tuple[datetime, datetime, bool]]:
    """[start, end) cut into pieces inside and outside the (merged) maintenance windows."""
    cursor = start
    for window_start, window_end in windows:
        if window_end <= cursor or window_start >= end:
            continue
        if window_start > cursor:
            yield cursor, window_start, False
        cursor_end = min(window_end, end)
        yield max(window_start, cursor), cursor_end, True
        cursor = cursor_end
    if cursor < end:
        yield cursor, end, False


def _close(outage: _Outage, since: datetime) -> None:
    if outage.length:
        outage.lengths.append(outage.length)
        if outage.started_at == since:
            outage.leading = outage.length
    outage.length = 0.0


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
