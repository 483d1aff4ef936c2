"""Sharing monitors among engine processes with leases on the executions table.

Every engine heartbeats, renews the leases it holds, and moves towards its fair share
(running executions divided by live engines): it claims executions nobody holds or whose
lease expired, and releases its excess for the others to claim. Claims are conditional
UPDATEs, which the database serialises on the row, so two engines can never both win the
same execution - on SQLite, PostgreSQL and MariaDB alike, with no protocol of our own.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from vimwatch.registry.models import EngineMember, Execution, Vim
from vimwatch.registry.workflows import RUNNING


def _live_running():  # noqa: ANN202 - a reusable SQL condition
    return and_(Execution.state == RUNNING, Vim.deleted_at.is_(None), Vim.id == Execution.vim_id)


def heartbeat(session: Session, engine_id: str, now: datetime) -> None:
    member = session.get(EngineMember, engine_id)
    if member is None:
        session.add(EngineMember(id=engine_id, heartbeat_at=now, started_at=now))
    else:
        member.heartbeat_at = now


def live_engines(session: Session, now: datetime, ttl: float) -> int:
    fresh = now - timedelta(seconds=ttl)
    return session.scalar(select(func.count()).where(EngineMember.heartbeat_at >= fresh)) or 1


def renew(session: Session, engine_id: str, now: datetime, ttl: float) -> None:
    session.execute(
        update(Execution)
        .where(Execution.engine_id == engine_id, Execution.state == RUNNING)
        .values(lease_expires_at=now + timedelta(seconds=ttl))
    )


def fair_share(session: Session, now: datetime, ttl: float) -> int:
    total = (
        session.scalar(select(func.count()).select_from(Execution).join(Vim, _live_running())) or 0
    )
    return math.ceil(total / live_engines(session, now, ttl))


def owned(session: Session, engine_id: str) -> set[str]:
    """VIM ids whose running execution this engine holds."""
    return set(
        session.scalars(
            select(Execution.vim_id)
            .join(Vim, _live_running())
            .where(Execution.engine_id == engine_id)
        )
    )


def claim(session: Session, engine_id: str, now: datetime, ttl: float, limit: int) -> int:
    free = or_(
        Execution.engine_id.is_(None),
        Execution.lease_expires_at.is_(None),
        Execution.lease_expires_at < now,
    )
    candidates = list(
        session.scalars(
            select(Execution.id)
            .join(Vim, _live_running())
            .where(free)
            .order_by(Execution.created_at, Execution.id)
            .limit(limit)
        )
    )
    if not candidates:
        return 0
    return session.execute(
        update(Execution)
        .where(Execution.id.in_(candidates), free)
        .values(engine_id=engine_id, lease_expires_at=now + timedelta(seconds=ttl))
    ).rowcount


def release(session: Session, engine_id: str, count: int | None = None) -> int:
    """Give up `count` leases (all when None), newest first, for other engines to claim."""
    query = select(Execution.id).where(Execution.engine_id == engine_id)
    if count is not None:
        query = query.order_by(Execution.created_at.desc()).limit(count)
    ids = list(session.scalars(query))
    if not ids:
        return 0
    return session.execute(
        update(Execution)
        .where(Execution.id.in_(ids), Execution.engine_id == engine_id)
        .values(engine_id=None, lease_expires_at=None)
    ).rowcount


def leave(session: Session, engine_id: str) -> None:
    """A clean stop: hand every lease back at once instead of letting them expire."""
    release(session, engine_id)
    session.execute(delete(EngineMember).where(EngineMember.id == engine_id))


def balance(session: Session, engine_id: str, now: datetime, ttl: float) -> set[str]:
    """One lease round; returns the VIM ids this engine should now be monitoring."""
    heartbeat(session, engine_id, now)
    renew(session, engine_id, now, ttl)
    share = fair_share(session, now, ttl)
    mine = len(owned(session, engine_id))
    if mine < share:
        claim(session, engine_id, now, ttl, share - mine)
    elif mine > share:
        release(session, engine_id, mine - share)
    return owned(session, engine_id)
