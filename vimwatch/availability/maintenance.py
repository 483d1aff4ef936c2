"""When a maintenance window is in force, and for which VIMs: plain rules over its fields.

Kept apart from the registry so that the conductor (is this VIM in maintenance now?) and
the reports (which stretches to leave out?) read the same rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from vimwatch.availability.timeline import Interval

WEEK = timedelta(days=7)


class WindowFields(Protocol):
    scope: str
    vim_ids: list[str]
    target_project: str | None
    starts_at: datetime
    ends_at: datetime
    weekly: bool
    deleted_at: datetime | None


def covers(window: WindowFields, vim_id: str, project_id: str) -> bool:
    """Whether the window is about this VIM: named, in its project, or about every VIM."""
    if window.scope == "vims":
        return vim_id in window.vim_ids
    if window.scope == "project":
        return window.target_project == project_id
    return window.scope == "all"


def occurrences(window: WindowFields, since: datetime, until: datetime) -> list[Interval]:
    """The window's stretches that overlap [since, until), ending where it was deleted."""
    end_of_life = window.deleted_at or until
    found = []
    start, end = window.starts_at, window.ends_at
    if window.weekly and end <= since:
        skipped = (since - end) // WEEK + 1
        start, end = start + skipped * WEEK, end + skipped * WEEK
    while start < min(until, end_of_life):
        if end > since:
            found.append((start, min(end, end_of_life)))
        if not window.weekly:
            break
        start, end = start + WEEK, end + WEEK
    return found


def in_force(window: WindowFields, at: datetime) -> bool:
    return bool(occurrences(window, at, at + timedelta(microseconds=1)))
