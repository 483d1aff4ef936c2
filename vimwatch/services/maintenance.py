"""Adding, listing and deleting maintenance windows, each one operation top to bottom.

A window is planned ahead or starts now, never in the past: what the events already say
(a change was or was not `in maintenance`, a webhook was or was not sent) must agree with
the reports. For the same reason deleting a window ends it rather than erasing it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from vimwatch.availability.maintenance import WEEK, in_force
from vimwatch.context import RequestContext
from vimwatch.errors import BadRequest, Forbidden, NotFound
from vimwatch.registry import maintenance
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import MaintenanceWindow
from vimwatch.registry.vims import find_vim

#: How far in the past a start may lie and still mean "now" (a clock a little behind).
_NOW_SLACK = timedelta(minutes=1)
MAX_VIMS = 1000


def window_view(window: MaintenanceWindow, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": window.id,
        "project_id": window.project_id,
        "scope": window.scope,
        "vim_ids": window.vim_ids,
        "target_project": window.target_project,
        "start": str(window.starts_at),
        "end": str(window.ends_at),
        "weekly": window.weekly,
        "reason": window.reason,
        "in_force": in_force(window, now or utcnow()),
        "created_at": str(window.created_at),
    }


def add(
    registry: Registry,
    context: RequestContext,
    *,
    vim_ids: list[str],
    project: str | None,
    everything: bool,
    start: datetime | None,
    end: datetime,
    weekly: bool,
    reason: str,
) -> dict[str, Any]:
    """A window over the given VIMs, a project's VIMs, or (admins only) every VIM."""
    scope = _scope(vim_ids, project, everything)
    now = utcnow()
    start = start or now
    if start < now - _NOW_SLACK:
        raise BadRequest("start must not be in the past: a window is planned ahead or starts now")
    if end <= start:
        raise BadRequest("end must come after start")
    if weekly and end - start >= WEEK:
        raise BadRequest("a weekly window must be shorter than a week")
    if scope == "all" and not context.is_admin:
        raise Forbidden("a window over every VIM requires the admin role")
    if scope == "project" and not context.can_see(project or ""):
        raise Forbidden("a project may only plan maintenance of its own VIMs")
    with registry.transaction() as session:
        target = project
        for vim_id in vim_ids:
            vim = find_vim(session, context, vim_id)
            if vim is None:
                raise NotFound(f"VIM {vim_id} not found")
            target = vim.tenant_id if target in (None, vim.tenant_id) else None
        window = maintenance.add_window(
            session,
            context.project_id,
            scope=scope,
            vim_ids=sorted(set(vim_ids)),
            target_project=target if scope != "all" else None,
            starts_at=start,
            ends_at=end,
            weekly=weekly,
            reason=reason,
            created_at=now,
        )
        session.flush()
        return window_view(window, now)


def list_windows(registry: Registry, context: RequestContext) -> list[dict[str, Any]]:
    now = utcnow()
    with registry.reading() as session:
        return [window_view(w, now) for w in maintenance.list_windows(session, context)]


def delete(registry: Registry, context: RequestContext, window_id: str) -> None:
    """End the window now: it no longer applies, and what it already left out stays out."""
    with registry.transaction() as session:
        window = maintenance.find_window(session, context, window_id)
        if window is None:
            raise NotFound(f"maintenance window {window_id} not found")
        window.deleted_at = utcnow()


def _scope(vim_ids: list[str], project: str | None, everything: bool) -> str:
    given = [
        name
        for name, value in (("vims", vim_ids), ("project", project), ("all", everything))
        if value
    ]
    if len(given) != 1:
        raise BadRequest("name the VIMs, a project, or all: exactly one of vim_ids, project, all")
    if len(vim_ids) > MAX_VIMS:
        raise BadRequest(f"a window names at most {MAX_VIMS} VIMs")
    return given[0]
