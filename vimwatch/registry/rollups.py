"""Daily availability roll-ups: each VIM's figures over each closed UTC day, in the database.

A day is rolled up once it is over (and a grace has passed for a status change stamped
before midnight but committed after it): its events and maintenance windows never change
afterwards, since events are only ever stamped now and windows only start now or later.
The roll-up of a day is written for every VIM that existed in it, with the day's mark
(`rolled_days`), in one transaction: a report reads a marked day from the roll-ups and any
other from the events, so a report is exact whether the job has caught up or not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vimwatch.availability.timeline import Availability
from vimwatch.context import admin_context
from vimwatch.registry import history
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import AvailabilityDay, Event, RolledDay

LOG = logging.getLogger(__name__)
DAY = timedelta(days=1)
#: How long after midnight a day is closed: a change stamped 23:59:59 commits by then.
GRACE = timedelta(minutes=10)
_CHUNK = 1000  # ids per IN (...), below every database's limit on bound parameters
_INSERT_ROWS = 5000
_US = 1_000_000


def day_of(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _us(seconds: float) -> int:
    return round(seconds * _US)


def row_of(vim_id: str, day: datetime, figures: Availability) -> dict[str, Any]:
    return {
        "vim_id": vim_id,
        "day": day,
        "up_us": _us(figures.up_seconds),
        "down_us": _us(figures.down_seconds),
        "pending_us": _us(figures.pending_seconds),
        "maintenance_us": _us(figures.maintenance_seconds),
        "outages": figures.outages,
        "longest_outage_us": _us(figures.longest_outage_seconds),
        "leading_down_us": _us(figures.leading_down_seconds),
        "trailing_down_us": _us(figures.trailing_down_seconds),
        "wholly_down": figures.wholly_down,
    }


def figures_of(row: Any) -> Availability:
    """A roll-up row's figures, over its day."""
    return Availability(
        since=row.day,
        until=row.day + DAY,
        up_seconds=row.up_us / _US,
        down_seconds=row.down_us / _US,
        pending_seconds=row.pending_us / _US,
        maintenance_seconds=row.maintenance_us / _US,
        outages=row.outages,
        longest_outage_seconds=row.longest_outage_us / _US,
        leading_down_seconds=row.leading_down_us / _US,
        trailing_down_seconds=row.trailing_down_us / _US,
        wholly_down=bool(row.wholly_down),
    )


def rolled_days(session: Session, first: datetime, last: datetime) -> list[datetime]:
    """The rolled-up days d with first <= d < last, in order."""
    query = (
        select(RolledDay.day)
        .where(RolledDay.day >= first, RolledDay.day < last)
        .order_by(RolledDay.day)
    )
    return list(session.scalars(query))


def day_figures(
    session: Session, vim_ids: Iterable[str], first: datetime, last: datetime
) -> dict[str, dict[datetime, Availability]]:
    """The roll-ups of these VIMs for the days in [first, last), by VIM and day. Many VIMs
    are read by one range of days, a few by their (vim_id, day) keys."""
    wanted = set(vim_ids)
    found: dict[str, dict[datetime, Availability]] = {vim_id: {} for vim_id in wanted}
    columns = select(*AvailabilityDay.__table__.c).where(
        AvailabilityDay.day >= first, AvailabilityDay.day < last
    )
    if len(wanted) > _CHUNK:
        batches = [columns]
    else:
        ordered = sorted(wanted)
        batches = [
            columns.where(AvailabilityDay.vim_id.in_(ordered[start : start + _CHUNK]))
            for start in range(0, len(ordered), _CHUNK)
        ]
    for query in batches:
        for row in session.execute(query):
            if row.vim_id in wanted:
                found[row.vim_id][row.day] = figures_of(row)
    return found


def roll_up_day(registry: Registry, day: datetime) -> bool:
    """Write the roll-ups of `day` (midnight) and mark it; False if it was already marked
    (by this job earlier, or by another api process meanwhile)."""
    try:
        with registry.transaction() as session:
            if session.get(RolledDay, day) is not None:
                return False
            vims = history.vims_in_period(session, admin_context(), day, day + DAY)
            rows = [
                row_of(vim.id, day, figures)
                for vim, figures in history.event_figures(session, vims, day, day + DAY)
            ]
            session.execute(delete(AvailabilityDay).where(AvailabilityDay.day == day))
            for start in range(0, len(rows), _INSERT_ROWS):
                session.execute(insert(AvailabilityDay), rows[start : start + _INSERT_ROWS])
            session.add(RolledDay(day=day, rolled_at=utcnow()))
    except IntegrityError:
        return False
    return True


def days_to_roll(session: Session, now: datetime) -> list[datetime]:
    """Closed days not rolled up yet, from the first event's day on, newest first: the
    days recent reports read come first, older ones are filled in after."""
    oldest = session.scalar(select(func.min(Event.timestamp)))
    if oldest is None:
        return []
    last = day_of(now - GRACE) - DAY
    done = set(rolled_days(session, day_of(oldest), last + DAY))
    days = []
    day = last
    while day >= day_of(oldest):
        if day not in done:
            days.append(day)
        day -= DAY
    return days


def roll_up(
    registry: Registry, now: datetime, most: int, not_before: datetime | None = None
) -> int:
    """Roll up at most `most` closed days (from `not_before` on, if given), newest first;
    return how many were written."""
    with registry.reading() as session:
        days = [d for d in days_to_roll(session, now) if not_before is None or d >= not_before]
    written = 0
    for day in days[:most]:
        if roll_up_day(registry, day):
            written += 1
            LOG.debug("availability of %s rolled up", day.date())
    return written


def prune_rollups(registry: Registry, before: datetime) -> int:
    """Delete the roll-ups of days before `before` (their marks stay: the day is done)."""
    with registry.transaction() as session:
        result = session.execute(delete(AvailabilityDay).where(AvailabilityDay.day < before))
    return int(getattr(result, "rowcount", 0) or 0)
