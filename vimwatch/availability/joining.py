"""One VIM's figures over a period, from the figures of the adjacent periods it is cut into.

Daily roll-ups make a 30-day report a join of a partial first day, whole days and today so
far. Seconds add up; an outage running across a boundary is one outage, as long as its
two parts together: each part says how long the outage touching its start and its end is
(`leading_down_seconds`, `trailing_down_seconds`) and whether one outage covers it whole.
"""

from __future__ import annotations

from collections.abc import Iterable

from vimwatch.availability.timeline import Availability


def join(first: Availability, then: Availability) -> Availability:
    """The figures of `first` followed at once by `then` (first.until == then.since)."""
    if first.until != then.since:
        raise ValueError(f"periods are not adjacent: {first.until} and {then.since}")
    across = first.trailing_down_seconds > 0 and then.leading_down_seconds > 0
    bridged = first.trailing_down_seconds + then.leading_down_seconds if across else 0.0
    return Availability(
        since=first.since,
        until=then.until,
        up_seconds=first.up_seconds + then.up_seconds,
        down_seconds=first.down_seconds + then.down_seconds,
        pending_seconds=first.pending_seconds + then.pending_seconds,
        maintenance_seconds=first.maintenance_seconds + then.maintenance_seconds,
        outages=first.outages + then.outages - int(across),
        longest_outage_seconds=max(
            first.longest_outage_seconds, then.longest_outage_seconds, bridged
        ),
        leading_down_seconds=(
            first.leading_down_seconds + then.leading_down_seconds
            if first.wholly_down
            else first.leading_down_seconds
        ),
        trailing_down_seconds=(
            first.trailing_down_seconds + then.trailing_down_seconds
            if then.wholly_down
            else then.trailing_down_seconds
        ),
        wholly_down=first.wholly_down and then.wholly_down,
    )


def join_all(parts: Iterable[Availability]) -> Availability:
    """Adjacent parts in time order, joined; periods of no length are skipped."""
    joined: Availability | None = None
    for part in parts:
        if part.since >= part.until:
            continue
        joined = part if joined is None else join(joined, part)
    if joined is None:
        raise ValueError("nothing to join: every part is empty")
    return joined
