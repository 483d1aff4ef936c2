"""Pruning events older than the retention, in batches, without losing any VIM's status.

Each VIM keeps its last status event before the cut-off (unless that event is its
DELETE): it is the status in force at the cut-off, from which every report of a window
inside the retention is still exact. Events are pruned only up to the first day whose
availability is not rolled up yet (vimwatch.registry.rollups), and the roll-ups of days
before the cut-off go with them. Each batch is its own short transaction, so pruning
a year of a large fleet never holds a long lock over the events the conductor writes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vimwatch.registry.database import Registry
from vimwatch.registry.history import STATUS_EVENTS
from vimwatch.registry.models import Event
from vimwatch.registry.rollups import DAY, day_of, prune_rollups, rolled_days

LOG = logging.getLogger(__name__)
BATCH = 1000


def rolled_cutoff(registry: Registry, cutoff: datetime) -> datetime:
    """`cutoff`, or earlier: the start of the first day before it not rolled up yet."""
    with registry.reading() as session:
        oldest = session.scalar(select(func.min(Event.timestamp)).where(Event.timestamp < cutoff))
        if oldest is None:
            return cutoff
        first, last = day_of(oldest), day_of(cutoff)
        rolled = set(rolled_days(session, first, last + DAY))
    day = first
    while day <= last:
        if day not in rolled:
            return min(day, cutoff)
        day += DAY
    return cutoff


def prune_events(registry: Registry, cutoff: datetime, batch: int = BATCH) -> int:
    """Delete events before `cutoff` but each VIM's status in force there, and only those
    of rolled-up days, with the roll-ups before the cut-off; return how many events."""
    cutoff = rolled_cutoff(registry, cutoff)
    prune_rollups(registry, day_of(cutoff))
    pruned = 0
    after = 0
    while True:
        with registry.transaction() as session:
            rows = session.execute(
                select(Event.id, Event.resource_id, Event.event_type)
                .where(Event.timestamp < cutoff, Event.id > after)
                .order_by(Event.id)
                .limit(batch)
            ).all()
            if not rows:
                return pruned
            after = rows[-1].id
            keep = _in_force(session, cutoff, {r.resource_id for r in rows})
            doomed = [r.id for r in rows if r.id not in keep]
            if doomed:
                session.execute(delete(Event).where(Event.id.in_(doomed)))
            pruned += len(doomed)
        LOG.debug("pruned %d events before %s so far", pruned, cutoff)


def _in_force(session: Session, cutoff: datetime, vim_ids: set[str]) -> set[int]:
    """The ids of each VIM's last status event before the cut-off, but DELETEs."""
    kept = set()
    for vim_id in vim_ids:
        row = session.execute(
            select(Event.id, Event.event_type)
            .where(
                Event.resource_id == vim_id,
                Event.event_type.in_(STATUS_EVENTS),
                Event.timestamp < cutoff,
            )
            .order_by(Event.timestamp.desc(), Event.id.desc())
            .limit(1)
        ).first()
        if row is not None and row.event_type != "DELETE":
            kept.add(row.id)
    return kept
