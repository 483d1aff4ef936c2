"""The fleet's availability over the standard windows, kept ready and sorted worst first.

At 100,000 VIMs a fleet report is 100,000 joins of roll-ups and edge events: far more
than a request can spend. A background job (vimwatch.roles.availability) recomputes the
standard windows every minute into a snapshot held here, and the fleet view pages through
it. Each snapshot is exact for the period it states (since, until): a request for `30d`
gets the last snapshot's period, at most a refresh old, and a request naming that period
(the next page's link) gets the same snapshot. Refreshes are incremental: the rolled-up
whole days of each window are joined once per day and kept; each refresh reads only the
events of the window's first, partial day and of today.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vimwatch.availability.periods import parse_window
from vimwatch.availability.timeline import Availability
from vimwatch.context import RequestContext, admin_context
from vimwatch.registry import history, period_figures
from vimwatch.registry.database import Registry

LOG = logging.getLogger(__name__)
WINDOWS = ("1h", "24h", "7d", "30d")
#: A snapshot older than this is not served: the job has stopped or fallen far behind.
STALE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Row:
    """One VIM of a snapshot: what the fleet view shows of it, and its figures."""

    id: str
    name: str
    tenant_id: str
    status: str
    deleted: bool
    figures: Availability

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "tenant_id": self.tenant_id,
            "status": self.status,
            "deleted": self.deleted,
            **self.figures.view(),
        }


def worst_first(row: Row) -> tuple[Any, ...]:
    """Lowest ratio first, then most downtime; VIMs with no counted time last."""
    ratio = row.figures.ratio
    return (ratio is None, ratio or 0.0, -row.figures.down_seconds, row.id)


@dataclass
class Ranking:
    """Rows worst first, their total, and where each VIM stands (for markers)."""

    rows: list[Row]
    total: Availability
    position: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: list[Row], since: datetime, until: datetime) -> Ranking:
        rows.sort(key=worst_first)
        total = Availability(since, until)
        for row in rows:
            total.add(row.figures)
        return cls(rows, total, {row.id: n for n, row in enumerate(rows)})


@dataclass
class Snapshot:
    window: str
    since: datetime
    until: datetime
    fleet: Ranking
    projects: dict[str, Ranking]

    def ranking(self, context: RequestContext, project: str | None) -> Ranking:
        """What the caller may see, of `project` only if given: the whole fleet for an
        admin, else its own project's VIMs (none when it names another project)."""
        if context.is_admin and project is None:
            return self.fleet
        wanted = project if context.is_admin else context.project_id
        if project is not None and project != wanted:
            return Ranking([], Availability(self.since, self.until))
        return self.projects.get(wanted or "") or Ranking([], Availability(self.since, self.until))


def rank(window: str, since: datetime, until: datetime, rows: Iterable[Row]) -> Snapshot:
    rows = list(rows)
    by_project: dict[str, list[Row]] = {}
    for row in rows:
        by_project.setdefault(row.tenant_id, []).append(row)
    projects = {
        project: Ranking.of(members, since, until) for project, members in by_project.items()
    }
    return Snapshot(window, since, until, Ranking.of(rows, since, until), projects)


class FleetSummary:
    """The latest snapshot of each standard window, refreshed by `refresh`."""

    def __init__(self, registry: Registry, windows: tuple[str, ...] = WINDOWS) -> None:
        self._registry = registry
        self._windows = windows
        self._snapshots: dict[str, Snapshot] = {}
        self._joined: dict[str, period_figures.JoinedDays] = {w: {} for w in windows}
        self._lock = threading.Lock()
        #: How long the last refresh took (the job's cost, shown on /metrics).
        self.refresh_seconds: float | None = None

    def refresh(self, now: datetime) -> None:
        """Recompute every standard window as it stands at `now` (one at a time)."""
        began = time.monotonic()
        edges: period_figures.JoinedDays = {}
        with self._lock:
            for window in self._windows:
                since = now - parse_window(window)
                with self._registry.reading() as session:
                    vims = history.vims_in_period(session, admin_context(), since, now)
                    kept = self._joined[window]
                    found = period_figures.figures(session, vims, since, now, kept, edges)
                    used = {
                        (start, end)
                        for start, end, rolled in period_figures.stretches(session, since, now)
                        if rolled
                    }
                for stale in set(kept) - used:
                    del kept[stale]
                rows = (
                    Row(
                        vim.id,
                        vim.name,
                        vim.tenant_id,
                        vim.status,
                        vim.deleted_at is not None,
                        figures,
                    )
                    for vim, figures in found
                )
                self._snapshots[window] = rank(window, since, now, rows)
        self.refresh_seconds = time.monotonic() - began

    def latest(self, window: str, now: datetime) -> Snapshot | None:
        """The window's last snapshot, unless there is none yet or it is stale."""
        snapshot = self._snapshots.get(window)
        if snapshot is None or now - snapshot.until > STALE_AFTER:
            return None
        return snapshot

    def of_period(self, since: datetime, until: datetime) -> Snapshot | None:
        """The snapshot of exactly [since, until), if one is still held."""
        for snapshot in list(self._snapshots.values()):
            if (snapshot.since, snapshot.until) == (since, until):
                return snapshot
        return None

    def snapshots(self) -> list[Snapshot]:
        return list(self._snapshots.values())
