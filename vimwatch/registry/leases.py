"""Sharing monitors among engine processes with leases on the executions table.

An engine's lease on an execution is the execution's `engine_id` plus that engine's
heartbeat in `engines`: the lease holds while the heartbeat is fresher than the TTL. So
renewing every lease is one heartbeat UPDATE, however many executions an engine holds -
renewing row by row cost a million-row UPDATE per round at a million VIMs.

Every engine heartbeats and moves towards its fair share (running executions divided by
live engines): it claims executions nobody holds or whose holder's heartbeat is stale,
and releases its excess for the others to claim. Claims are conditional UPDATEs, which
the database serialises on the row, so two engines can never both win the same
execution - on SQLite, PostgreSQL and MariaDB alike, with no protocol of our own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.orm import Session

from vimwatch.contract import RUNNING
from vimwatch.registry.models import EngineMember, Execution, Vim

# Rows per claim or release statement: below every database's limit on bound parameters.
CHUNK = 5000


@dataclass
class Moves:
    """What one incremental round changed for this engine, by VIM id."""

    claimed: set[str] = field(default_factory=set)
    released: set[str] = field(default_factory=set)
    #: Running executions counted for the fair share; the monitor audit compares it with
    #: the live VIMs, so that it costs no count of its own.
    running: int = 0


def _live_running() -> ColumnElement[bool]:
    """A reusable SQL condition: a running execution of a live VIM."""
    return and_(Execution.state == RUNNING, Vim.deleted_at.is_(None), Vim.id == Execution.vim_id)


def heartbeat(session: Session, engine_id: str, now: datetime) -> None:
    """Renews every lease this engine holds, in one row."""
    member = session.get(EngineMember, engine_id)
    if member is None:
        session.add(EngineMember(id=engine_id, heartbeat_at=now, started_at=now))
    else:
        member.heartbeat_at = now


def live_engines(session: Session, now: datetime, ttl: float) -> int:
    fresh = now - timedelta(seconds=ttl)
    return session.scalar(select(func.count()).where(EngineMember.heartbeat_at >= fresh)) or 1


def running_count(session: Session) -> int:
    # Counted on the state index alone: joining the VIMs to skip ones deleted a moment
    # ago costs a full scan at a million rows and changes the share by a handful.
    return session.scalar(select(func.count()).where(Execution.state == RUNNING)) or 0


def owned(session: Session, engine_id: str) -> dict[str, str]:
    """The running executions of live VIMs this engine holds: execution id by VIM id."""
    return dict(
        session.execute(
            select(Execution.vim_id, Execution.id)
            .join(Vim, _live_running())
            .where(Execution.engine_id == engine_id)
        ).all()
    )


def held_count(session: Session, engine_id: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(Execution.engine_id == engine_id, Execution.state == RUNNING)
        )
        or 0
    )


def claim_vims(session: Session, engine_id: str, now: datetime, ttl: float, limit: int) -> set[str]:
    """Claim up to `limit` free executions; returns the VIM ids this engine won.

    Each UPDATE is a compare-and-set on the holder read with the candidates (nobody, or
    one of the engines seen dead), so that a concurrent claimer whose UPDATE waited on
    the row lock re-checks the new holder and backs off rather than taking it over.
    """
    won: set[str] = set()
    fresh = now - timedelta(seconds=ttl)
    dead = list(session.scalars(select(EngineMember.id).where(EngineMember.heartbeat_at < fresh)))
    # Unheld executions first, then those of dead engines: each pass is one index range.
    holders = [Execution.engine_id.is_(None)]
    if dead:
        holders.append(Execution.engine_id.in_(dead))
    for holder in holders:
        while len(won) < limit:
            candidates = dict(
                session.execute(
                    select(Execution.id, Execution.vim_id)
                    .join(Vim, _live_running())
                    .where(holder)
                    .limit(min(CHUNK, limit - len(won)))
                ).all()
            )
            if not candidates:
                break
            session.execute(
                update(Execution)
                .where(Execution.id.in_(candidates), holder)
                .values(engine_id=engine_id)
            )
            # Filtered here, not in SQL: `engine_id = me` would lead the planner down the
            # engine index through every row this engine already holds.
            holders_now = session.execute(
                select(Execution.id, Execution.engine_id).where(Execution.id.in_(candidates))
            )
            claimed = {candidates[i] for i, holder_now in holders_now if holder_now == engine_id}
            if not claimed:
                # Every candidate went to another engine meanwhile: let the next round try.
                break
            won |= claimed
    return won


def claim(session: Session, engine_id: str, now: datetime, ttl: float, limit: int) -> int:
    return len(claim_vims(session, engine_id, now, ttl, limit))


def release_vims(session: Session, engine_id: str, count: int | None = None) -> set[str]:
    """Give up `count` leases (all when None), newest first; returns their VIM ids."""
    query = select(Execution.id, Execution.vim_id).where(Execution.engine_id == engine_id)
    if count is not None:
        query = query.order_by(Execution.created_at.desc()).limit(count)
    rows = dict(session.execute(query).all())
    ids = list(rows)
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(Execution)
            .where(Execution.id.in_(ids[start : start + CHUNK]), Execution.engine_id == engine_id)
            .values(engine_id=None, lease_expires_at=None)
        )
    return set(rows.values())


def release(session: Session, engine_id: str, count: int | None = None) -> int:
    return len(release_vims(session, engine_id, count))


def leave(session: Session, engine_id: str) -> None:
    """A clean stop: hand every lease back at once instead of letting them expire."""
    release(session, engine_id)
    session.execute(delete(EngineMember).where(EngineMember.id == engine_id))


def rebalance(session: Session, engine_id: str, now: datetime, ttl: float, mine: int) -> Moves:
    """One incremental round for an engine that already runs `mine` monitors: heartbeat,
    then claim or release towards the fair share. It reads no per-VIM rows unless
    something moves, so a steady round costs a few small queries at any fleet size."""
    heartbeat(session, engine_id, now)
    running = running_count(session)
    share = math.ceil(running / live_engines(session, now, ttl))
    if mine < share:
        claimed = claim_vims(session, engine_id, now, ttl, share - mine)
        return Moves(claimed=claimed, running=running)
    if mine > share:
        return Moves(released=release_vims(session, engine_id, mine - share), running=running)
    return Moves(running=running)


def balance(
    session: Session, engine_id: str, now: datetime, ttl: float
) -> tuple[dict[str, str], int]:
    """One full round: the executions this engine should now run (execution id by VIM
    id), and the running executions counted for the share."""
    moves = rebalance(session, engine_id, now, ttl, held_count(session, engine_id))
    return owned(session, engine_id), moves.running
