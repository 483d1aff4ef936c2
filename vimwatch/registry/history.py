"""A VIM's status history, read back from its events for availability reports.

The events are the record: CREATE (PENDING), each MONITOR change, and DELETE, written in
the same transaction as the status itself (vimwatch.conductor), so a history read here is
right across restarts, failovers and deletes without a second copy to keep in step.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, cast

from sqlalchemy import Row, Select, or_, select
from sqlalchemy.orm import Session

from vimwatch.availability.maintenance import covers, occurrences
from vimwatch.availability.timeline import Availability, Interval, Transition, availability
from vimwatch.context import RequestContext
from vimwatch.registry.maintenance import windows_between
from vimwatch.registry.models import Event, MaintenanceWindow, Vim

STATUS_EVENTS = ("CREATE", "MONITOR", "DELETE")
_CHUNK = 1000  # ids per IN (...), below every database's limit on bound parameters
_FEW = 4  # VIMs read one by one: two plain index reads each beat the set-based queries
_ORDER = (Event.timestamp, Event.id)


def _transition(event_type: str, state: str, at: datetime) -> Transition:
    return at, None if event_type == "DELETE" else state


def _status_events() -> Select[str, str, str, datetime]:
    return select(Event.resource_id, Event.event_type, Event.resource_state, Event.timestamp).where(
        Event.event_type.in_(STATUS_EVENTS)
    )


def vim_history(
    session: Session, vim_id: str, since: datetime, until: datetime
) -> list[Transition]:
    """The transition in force at `since` (if the VIM existed then) and those up to `until`."""
    before = (
        _status_events()
        .where(Event.resource_id == vim_id, Event.timestamp <= since)
        .order_by(Event.timestamp.desc(), Event.id.desc())
        .limit(1)
    )
    during = (
        _status_events()
        .where(Event.resource_id == vim_id, Event.timestamp > since, Event.timestamp < until)
        .order_by(*_ORDER)
    )
    history = [
        _transition(r.event_type, r.resource_state, r.timestamp) for r in session.execute(before)
    ]
    history += [
        _transition(r.event_type, r.resource_state, r.timestamp) for r in session.execute(during)
    ]
    return history


class VimFacts(Protocol):
    """What a report needs of a VIM: a Vim, or the row `vims_in_period` reads (its JSON
    columns left unread, which at 100,000 VIMs is most of the time a full row costs)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def deleted_at(self) -> datetime | None: ...


def vims_in_period(
    session: Session,
    context: RequestContext,
    since: datetime,
    until: datetime,
    project: str | None = None,
) -> list[VimFacts]:
    """The VIMs the caller may see that existed at some time in [since, until), deleted
    ones included: a fleet's availability counts a VIM up to its deletion."""
    query = select(
        Vim.id, Vim.name, Vim.tenant_id, Vim.status, Vim.created_at, Vim.deleted_at
    ).where(Vim.created_at < until, or_(Vim.deleted_at.is_(None), Vim.deleted_at > since))
    if not context.is_admin:
        query = query.where(Vim.tenant_id == context.project_id)
    if project is not None:
        query = query.where(Vim.tenant_id == project)
    return cast(list[VimFacts], list(session.execute(query)))


def histories(
    session: Session, vims: Iterable[VimFacts], since: datetime, until: datetime
) -> dict[str, list[Transition]]:
    """`vim_history` of many VIMs at once: the events of the period in one range read of
    the time index, and the transition in force at `since` by one index seek per VIM."""
    vims = list(vims)
    if len(vims) <= _FEW:
        return {vim.id: vim_history(session, vim.id, since, until) for vim in vims}
    ids = sorted(vim.id for vim in vims)
    found: dict[str, list[Transition]] = {vim_id: [] for vim_id in ids}
    older = [vim.id for vim in vims if vim.created_at <= since]
    for start in range(0, len(older), _CHUNK):
        for row in _in_force_at(session, since, older[start : start + _CHUNK]):
            found[row.resource_id].append(_transition(row.event_type, row.resource_state, since))
    for start in range(0, len(ids), _CHUNK):
        during = (
            _status_events()
            .where(
                Event.resource_id.in_(ids[start : start + _CHUNK]),
                Event.timestamp > since,
                Event.timestamp < until,
            )
            .order_by(*_ORDER)
        )
        for row in session.execute(during):
            found[row.resource_id].append(
                _transition(row.event_type, row.resource_state, row.timestamp)
            )
    return found


def _in_force_at(
    session: Session, since: datetime, vim_ids: list[str]
) -> list[Row[str, str, str, datetime]]:
    """The status event in force at `since` of each VIM: its id by a correlated seek of
    the (resource_id, timestamp) index, then the events by primary key."""
    latest = (
        select(Event.id)
        .where(
            Event.resource_id == Vim.id,
            Event.event_type.in_(STATUS_EVENTS),
            Event.timestamp <= since,
        )
        .order_by(Event.timestamp.desc(), Event.id.desc())
        .limit(1)
        .correlate(Vim)
        .scalar_subquery()
    )
    event_ids = [n for n in session.scalars(select(latest).where(Vim.id.in_(vim_ids))) if n]
    return list(session.execute(_status_events().where(Event.id.in_(event_ids))))


def event_figures(
    session: Session,
    vims: list[VimFacts],
    since: datetime,
    until: datetime,
    windows: list[MaintenanceWindow] | None = None,
) -> list[tuple[VimFacts, Availability]]:
    """Each VIM's availability over [since, until), its maintenance windows left out,
    computed from the events alone (vimwatch.registry.period_figures reads roll-ups too).
    `windows`: those that may be in force in the period, if already read."""
    transitions = histories(session, vims, since, until)
    if windows is None:
        windows = windows_between(session, since, until)
    return [
        (
            vim,
            availability(
                transitions[vim.id], maintenance_of(vim, windows, since, until), since, until
            ),
        )
        for vim in vims
    ]


def maintenance_of(
    vim: VimFacts, windows: list[MaintenanceWindow], since: datetime, until: datetime
) -> list[Interval]:
    """The stretches of [since, until) the VIM spent inside a maintenance window."""
    return [
        interval
        for window in windows
        if covers(window, vim.id, vim.tenant_id)
        for interval in occurrences(window, since, until)
    ]
