"""What the dashboard asks the registry, built to stay fast at 100,000 VIMs.

Every list is a page (LIMIT/OFFSET on indexed columns), counts are the registry's
counters (one GROUP BY on the indexed status under a name filter), and per-VIM extras
(last change, status history) are fetched only for the VIMs of the page being shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from vimwatch.context import RequestContext
from vimwatch.registry.models import Event, Vim
from vimwatch.registry.vims import count_by_status

HISTORY = 20  # status changes kept per VIM for the sparkline when no engine runs here


@dataclass(frozen=True)
class VimFilter:
    name: str = ""
    status: str = ""
    project: str = ""


@dataclass(frozen=True)
class FeedEvent:
    id: int
    vim_id: str
    vim_name: str | None
    vim_type: str | None
    project_id: str
    status: str
    event_type: str
    timestamp: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _live(context: RequestContext, project: str = "") -> Select:
    query = select(Vim).where(Vim.deleted_at.is_(None))
    if not context.is_admin:
        query = query.where(Vim.tenant_id == context.project_id)
    if project:
        query = query.where(Vim.tenant_id == project)
    return query


def _matching_name(query: Select, name: str) -> Select:
    if not name:
        return query
    # '/' escapes: a backslash means different things in MariaDB and PostgreSQL literals.
    escaped = name.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return query.where(func.lower(Vim.name).like(f"%{escaped}%", escape="/"))


def status_counts(session: Session, context: RequestContext, where: VimFilter) -> dict[str, int]:
    """Counts by status under the name and project filters (not the status one, so the
    counts still say what clicking another status would show). Without a name filter they
    are the registry's counters, read in constant time."""
    if not where.name:
        return count_by_status(session, context, where.project)
    base = _matching_name(_live(context, where.project), where.name).subquery()
    rows = session.execute(select(base.c.status, func.count()).group_by(base.c.status))
    return {status: count for status, count in rows}


def vim_page(
    session: Session, context: RequestContext, where: VimFilter, offset: int, limit: int
) -> tuple[int, list[Vim]]:
    query = _matching_name(_live(context, where.project), where.name)
    if where.status:
        query = query.where(Vim.status == where.status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(Vim.name, Vim.id).offset(offset).limit(limit))
    return total, list(page)


def last_changes(session: Session, vim_ids: list[str]) -> dict[str, datetime]:
    """When each VIM last changed status (its latest MONITOR event)."""
    if not vim_ids:
        return {}
    rows = session.execute(
        select(Event.resource_id, func.max(Event.timestamp))
        .where(Event.resource_id.in_(vim_ids), Event.event_type == "MONITOR")
        .group_by(Event.resource_id)
    )
    return dict(rows.all())


def status_history(session: Session, vim_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Each VIM's latest status changes, oldest first, as (status, timestamp)."""
    if not vim_ids:
        return {}
    rank = (
        func.row_number()
        .over(partition_by=Event.resource_id, order_by=Event.id.desc())
        .label("rank")
    )
    ranked = (
        select(Event.resource_id, Event.resource_state, Event.timestamp, Event.id, rank)
        .where(Event.resource_id.in_(vim_ids), Event.event_type == "MONITOR")
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.resource_id, ranked.c.resource_state, ranked.c.timestamp)
        .where(ranked.c.rank <= HISTORY)
        .order_by(ranked.c.id)
    )
    history: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for vim_id, state, timestamp in rows:
        history[vim_id].append((state, str(timestamp)))
    return history


def _feed_query(context: RequestContext | None) -> Select:
    query = select(Event, Vim.name, Vim.type).outerjoin(Vim, Vim.id == Event.resource_id)
    if context is not None and not context.is_admin:
        query = query.where(Event.tenant_id == context.project_id)
    return query


def _feed_event(event: Event, name: str | None, vim_type: str | None) -> FeedEvent:
    return FeedEvent(
        id=event.id,
        vim_id=event.resource_id,
        vim_name=name,
        vim_type=vim_type,
        project_id=event.tenant_id,
        status=event.resource_state,
        event_type=event.event_type,
        timestamp=str(event.timestamp),
    )


def events_after(
    session: Session, after_id: int, limit: int, context: RequestContext | None = None
) -> list[FeedEvent]:
    """Events newer than `after_id`, oldest first: what a live feed has not sent yet."""
    query = _feed_query(context).where(Event.id > after_id).order_by(Event.id).limit(limit)
    return [_feed_event(*row) for row in session.execute(query)]


def events_with_ids(session: Session, ids: list[int]) -> list[FeedEvent]:
    if not ids:
        return []
    query = _feed_query(None).where(Event.id.in_(ids)).order_by(Event.id)
    return [_feed_event(*row) for row in session.execute(query)]


def latest_events(
    session: Session, context: RequestContext, limit: int, before_id: int | None = None
) -> list[FeedEvent]:
    """The timeline: newest first, a page at a time going back with `before_id`."""
    query = _feed_query(context).order_by(Event.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Event.id < before_id)
    return [_feed_event(*row) for row in session.execute(query)]


def latest_event_id(session: Session) -> int:
    return session.scalar(select(func.max(Event.id))) or 0


def latest_visible_event_id(session: Session, context: RequestContext, up_to: int) -> int:
    """The newest event id up to `up_to` that `context` may see: the id of another
    project's event would tell a tenant how busy the rest of the fleet is."""
    newest = (
        select(Event.id)
        .where(Event.tenant_id == context.project_id, Event.id <= up_to)
        .order_by(Event.id.desc())
        .limit(1)
    )
    return session.scalar(newest) or 0
