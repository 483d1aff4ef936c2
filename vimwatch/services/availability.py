"""Availability reports: one VIM's, and a project's or the fleet's, worst first.

Read top to bottom: the VIMs the caller may see, their histories from the events, the
maintenance windows that cover them, and the arithmetic of vimwatch.availability.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from vimwatch.availability.timeline import availability
from vimwatch.context import RequestContext
from vimwatch.errors import BadRequest, NotFound
from vimwatch.registry import history, period_figures
from vimwatch.registry.database import Registry
from vimwatch.registry.fleet_summary import Ranking, Row, Snapshot
from vimwatch.registry.history import VimFacts
from vimwatch.registry.maintenance import windows_between
from vimwatch.registry.vims import find_vim

DAY = timedelta(days=1)


def vim_report(
    registry: Registry, context: RequestContext, vim_id: str, since: datetime, until: datetime
) -> dict[str, Any]:
    """One live VIM's availability over [since, until), from its events: a VIM changes
    status some 20 times a month, so two index reads beat joining roll-ups (which the
    fleet's reports need, vimwatch.registry.period_figures)."""
    with registry.reading() as session:
        vim = find_vim(session, context, vim_id)
        if vim is None:
            raise NotFound(f"VIM {vim_id} not found")
        [(_, figures)] = history.event_figures(session, [vim], since, until)
    return {**_vim_fields(vim), **figures.view()}


def fleet_report(
    registry: Registry,
    context: RequestContext,
    since: datetime,
    until: datetime,
    *,
    project: str | None = None,
    limit: int,
    marker: str | None = None,
    snapshot: Snapshot | None = None,
) -> dict[str, Any]:
    """Every VIM the caller may see that existed during the period (of `project` only, if
    given), worst first: lowest ratio, then most downtime; VIMs with no counted time
    last. `marker` is the last VIM id of the previous page. The totals cover them all.
    A `snapshot` of the period (vimwatch.registry.fleet_summary) is paged through as it
    stands; without one, the figures are computed now."""
    if snapshot is None:
        with registry.reading() as session:
            vims = history.vims_in_period(session, context, since, until, project)
            found = period_figures.figures(session, vims, since, until)
        rows = [
            Row(vim.id, vim.name, vim.tenant_id, vim.status, vim.deleted_at is not None, figures)
            for vim, figures in found
        ]
        ranking = Ranking.of(rows, since, until)
    else:
        ranking = snapshot.ranking(context, project)
    start = 0
    if marker is not None:
        if marker not in ranking.position:
            raise BadRequest(f"marker {marker!r} is not a VIM of this report")
        start = ranking.position[marker] + 1
    page = ranking.rows[start : start + limit]
    return {
        "total": {"vims": len(ranking.rows), **ranking.total.view()},
        "vims": [row.view() for row in page],
        "more": start + limit < len(ranking.rows),
    }


def _vim_fields(vim: VimFacts) -> dict[str, Any]:
    return {
        "id": vim.id,
        "name": vim.name,
        "tenant_id": vim.tenant_id,
        "status": vim.status,
        "deleted": vim.deleted_at is not None,
    }


def daily_bars(
    registry: Registry, context: RequestContext, vim_ids: list[str], days: int, now: datetime
) -> dict[str, dict[str, Any]]:
    """For a status page: each visible VIM's uptime ratio per UTC day, oldest first, over
    the last `days` days (today so far included), and whether it is in maintenance now.
    A day with nothing counted has ratio None; `maintenance` says it had a window."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    with registry.reading() as session:
        vims = [vim for vim_id in vim_ids if (vim := find_vim(session, context, vim_id))]
        transitions = history.histories(session, vims, first, now)
        windows = windows_between(session, first, now)
    bars = {}
    for vim in vims:
        resting = history.maintenance_of(vim, windows, first, now)
        cells = []
        for n in range(days):
            start = first + timedelta(days=n)
            day = availability(transitions[vim.id], resting, start, min(start + DAY, now))
            cells.append({"ratio": day.ratio, "maintenance": day.maintenance_seconds > 0})
        # The stretches are clipped to now: one still running ends there.
        bars[vim.id] = {"days": cells, "in_maintenance": any(end >= now for _, end in resting)}
    return bars
