"""Writing and reading the event log of VIMs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vimwatch.context import RequestContext
from vimwatch.registry.models import Event, Vim

EVENT_FILTERS = ("id", "resource_id", "resource_type", "resource_state", "event_type")
#: The largest id the events table holds on every database (a 32-bit INTEGER on PostgreSQL
#: and MariaDB, which refuse to even compare the column with a larger number).
MAX_EVENT_ID = 2**31 - 1


def parse_event_id(text: str | None) -> int | None:
    """An event id from text, or None: ASCII digits only (str.isdigit takes '²') and within
    every database's integer range."""
    if text and len(text) <= 10 and text.isascii() and text.isdigit() and int(text) <= MAX_EVENT_ID:
        return int(text)
    return None


def record_event(
    session: Session,
    *,
    vim_id: str,
    tenant_id: str,
    state: str,
    event_type: str,
    timestamp: datetime,
    details: str = "",
) -> Event:
    event = Event(
        resource_id=vim_id,
        resource_type="vim",
        resource_state=state,
        event_type=event_type,
        timestamp=timestamp,
        event_details=details,
        tenant_id=tenant_id,
    )
    session.add(event)
    return event


def record_vim_event(session: Session, vim: Vim, event_type: str, timestamp: datetime) -> Event:
    """An API call's event: the VIM's state as it stands when the call happens."""
    return record_event(
        session,
        vim_id=vim.id,
        tenant_id=vim.tenant_id,
        state=vim.status,
        event_type=event_type,
        timestamp=timestamp,
    )


def list_events(
    session: Session,
    context: RequestContext,
    filters: dict[str, list[str]],
    *,
    limit: int | None = None,
    after_id: int | None = None,
) -> list[Event]:
    """Events the caller may see, matching every filter (repeated values of one key OR'ed),
    oldest first; `after_id` and `limit` page through them by primary key."""
    query = select(Event).order_by(Event.id)
    if after_id is not None:
        query = query.where(Event.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    if not context.is_admin:
        query = query.where(Event.tenant_id == context.project_id)
    for key, values in filters.items():
        column = getattr(Event, key)
        wanted: list[str] | list[int] = values
        if key == "id":
            wanted = [n for n in map(parse_event_id, values) if n is not None]
        query = query.where(column.in_(wanted))
    return list(session.scalars(query))


def get_event(session: Session, context: RequestContext, event_id: int) -> Event | None:
    event = session.get(Event, event_id)
    if event is None or not context.can_see(event.tenant_id):
        return None
    return event
