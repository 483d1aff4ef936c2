"""VIMs' availability over any period: rolled-up days from their roll-ups, the rest from
the events, joined per VIM.

A 30-day report is then a partial first day and today so far from the events (a few
events a VIM) and 29 roll-up rows, however long the VIM's history; and if the roll-up
job is behind, the days it has not reached are read from the events, so the answer is
the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from vimwatch.availability.joining import join_all
from vimwatch.availability.timeline import Availability, Interval
from vimwatch.registry import history
from vimwatch.registry.history import VimFacts
from vimwatch.registry.maintenance import windows_between
from vimwatch.registry.rollups import DAY, day_figures, day_of, rolled_days

#: A stretch of a period: (start, end, whether it is read from roll-ups).
Stretch = tuple[datetime, datetime, bool]


def stretches(session: Session, since: datetime, until: datetime) -> list[Stretch]:
    """[since, until) cut into runs of whole rolled-up days and the stretches between."""
    first = day_of(since) if day_of(since) == since else day_of(since) + DAY
    days = rolled_days(session, first, until)
    found: list[Stretch] = []
    cursor = since
    for day in days:
        if day + DAY > until:
            break
        if day > cursor:
            found.append((cursor, day, False))
        if found and found[-1][2] and found[-1][1] == day:
            found[-1] = (found[-1][0], day + DAY, True)
        else:
            found.append((day, day + DAY, True))
        cursor = day + DAY
    if cursor < until:
        found.append((cursor, until, False))
    return found


#: Rolled-up stretches already joined, by (start, end), then by VIM: what a job that
#: recomputes the same windows every minute keeps between runs, since closed days do not
#: change (a VIM created since has no roll-ups in them, so it is not missed).
JoinedDays = dict[Interval, dict[str, Availability]]


def figures(
    session: Session,
    vims: list[VimFacts],
    since: datetime,
    until: datetime,
    joined_days: JoinedDays | None = None,
    edges: JoinedDays | None = None,
) -> list[tuple[VimFacts, Availability]]:
    """Each VIM's availability over [since, until), its maintenance windows left out.
    `joined_days`, if given, is read and filled with the rolled-up stretches' figures;
    `edges` likewise with the stretches read from the events, for reports of one moment
    that share them (every window's today so far), and only for those."""
    parts: dict[str, list[Availability]] = {vim.id: [] for vim in vims}
    windows = None
    for start, end, rolled in stretches(session, since, until):
        if rolled:
            known = joined_days.get((start, end)) if joined_days is not None else None
            if known is None:
                known = _joined(session, parts, start, end)
                if joined_days is not None:
                    joined_days[(start, end)] = known
            for vim in vims:
                parts[vim.id].append(known.get(vim.id) or Availability(start, end))
        else:
            known = edges.get((start, end)) if edges is not None else None
            if known is None:
                if windows is None:
                    windows = windows_between(session, since, until)
                found = history.event_figures(session, vims, start, end, windows)
                known = {vim.id: figures for vim, figures in found}
                if edges is not None:
                    edges[(start, end)] = known
            for vim in vims:
                parts[vim.id].append(known.get(vim.id) or Availability(start, end))
    return [(vim, join_all(parts[vim.id])) for vim in vims]


def _joined(
    session: Session, vim_ids: Iterable[str], start: datetime, end: datetime
) -> dict[str, Availability]:
    """Each VIM's roll-ups over the whole days [start, end), joined; a day without a row
    (the VIM did not exist) counts nothing."""
    joined = {}
    for vim_id, days in day_figures(session, vim_ids, start, end).items():
        if not days:
            continue
        cells = []
        day = start
        while day < end:
            cells.append(days.get(day) or Availability(day, day + DAY))
            day += DAY
        joined[vim_id] = join_all(cells)
    return joined
