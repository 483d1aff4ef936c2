"""Maintenance windows in the registry, scoped by the caller's project."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from vimwatch.availability.maintenance import covers, in_force
from vimwatch.context import RequestContext
from vimwatch.registry.models import MaintenanceWindow

_INSTANT = timedelta(microseconds=1)


def add_window(session: Session, project_id: str, **fields: object) -> MaintenanceWindow:
    window = MaintenanceWindow(id=str(uuid.uuid4()), project_id=project_id, **fields)
    session.add(window)
    return window


def visible(context: RequestContext) -> list[ColumnElement[bool]]:
    """Conditions for the windows a caller may see: an admin sees all; a project sees its
    own and those an admin set for every VIM or for that project."""
    if context.is_admin:
        return []
    return [
        or_(
            MaintenanceWindow.project_id == context.project_id,
            MaintenanceWindow.target_project == context.project_id,
            MaintenanceWindow.scope == "all",
        )
    ]


def list_windows(session: Session, context: RequestContext) -> list[MaintenanceWindow]:
    """Windows not deleted, in the order they start."""
    query = (
        select(MaintenanceWindow)
        .where(MaintenanceWindow.deleted_at.is_(None), *visible(context))
        .order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)
    )
    return list(session.scalars(query))


def find_window(
    session: Session, context: RequestContext, window_id: str
) -> MaintenanceWindow | None:
    """A window not deleted that the caller may delete: its project's own (or any, for an
    admin); None hides both 'absent' and 'another project's'."""
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.id == window_id, MaintenanceWindow.deleted_at.is_(None)
    )
    if not context.is_admin:
        query = query.where(MaintenanceWindow.project_id == context.project_id)
    return session.scalars(query).first()


def windows_between(session: Session, since: datetime, until: datetime) -> list[MaintenanceWindow]:
    """Every window that may have been in force during [since, until), deleted or not:
    a report leaves out what a window excluded while it stood."""
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.starts_at < until,
        or_(MaintenanceWindow.deleted_at.is_(None), MaintenanceWindow.deleted_at > since),
    )
    return list(session.scalars(query))


def in_maintenance(session: Session, vims: Iterable[tuple[str, str]], at: datetime) -> set[str]:
    """Which of these (vim_id, project_id) are inside a maintenance window at `at`."""
    vims = list(vims)
    if not vims:
        return set()
    windows = [w for w in windows_between(session, at, at + _INSTANT) if in_force(w, at)]
    return {
        vim_id
        for vim_id, project_id in vims
        if any(covers(window, vim_id, project_id) for window in windows)
    }
