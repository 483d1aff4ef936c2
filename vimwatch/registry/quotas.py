"""How many VIMs, webhooks and tokens a project may hold, and the check every write of
one makes.

A project's limits are its own row in `quotas` where an admin set one, the configured
default (VIMWATCH_QUOTA_*) otherwise. The check runs inside the transaction that writes,
after locking the project's quota row, so two requests of one project count one after the
other and cannot both slip under the limit. VIMs are counted from the status counters
the database keeps (migration 0006), a few rows per project, never by walking the VIMs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Insert, Select

from vimwatch.config import Settings
from vimwatch.contract import QUOTA_KINDS, QuotaKind
from vimwatch.errors import QuotaExceeded
from vimwatch.registry.models import ApiToken, Quota, VimStatusCount, Webhook

_NAMES = {"vims": "VIMs", "webhooks": "webhooks", "tokens": "tokens"}


def limits(session: Session, project_id: str, settings: Settings) -> dict[str, int]:
    """The project's quota of each kind: its own where set, the default otherwise."""
    row = session.get(Quota, project_id)
    return {kind: _limit(row, kind, settings) for kind in QUOTA_KINDS}


def usage(session: Session, project_id: str) -> dict[str, int]:
    """What the project holds of each kind now."""
    return {kind: _count(session, project_id, kind) for kind in QUOTA_KINDS}


def reserve(
    session: Session, settings: Settings, project_id: str, kind: QuotaKind, adding: int
) -> None:
    """Refuse (QuotaExceeded) a write that would take the project past its quota of
    `kind`; call inside the writing transaction, before the write."""
    _lock(session, project_id)
    check(session, settings, project_id, kind, adding)


def check(
    session: Session, settings: Settings, project_id: str, kind: QuotaKind, adding: int
) -> None:
    """reserve's check without the lock: for refusing early, before costly work, a
    request that `reserve` would refuse anyway."""
    limit = _limit(session.get(Quota, project_id), kind, settings)
    held = _count(session, project_id, kind)
    if held + adding > limit:
        name = _NAMES[kind]
        raise QuotaExceeded(
            f"project {project_id!r} may hold at most {limit} {name} (its {kind} quota); it"
            f" holds {held} and this request adds {adding}. Delete some, or ask an admin to"
            f" raise it: vimwatch quota set {project_id} --{kind} N"
        )


def set_quota(session: Session, project_id: str, changes: dict[str, int | None]) -> None:
    """Set the project's own limits; None puts a kind back on the configured default."""
    row = _lock(session, project_id)
    for kind, value in changes.items():
        setattr(row, kind, value)


def _limit(row: Quota | None, kind: QuotaKind, settings: Settings) -> int:
    own: int | None = getattr(row, kind) if row is not None else None
    default: int = getattr(settings, f"quota_{kind}")
    return own if own is not None else default


def _lock(session: Session, project_id: str) -> Quota:
    """The project's quota row, locked until the transaction ends (created if missing).

    One upsert both creates and locks it: with a read, then an insert, then a locking
    read, two first writes of a new project deadlocked on MariaDB (each held the shared
    lock a duplicate INSERT takes, each wanting the other's gone)."""
    session.execute(_touch(session.get_bind().dialect.name).values(project_id=project_id))
    # A locking read: InnoDB's plain one may not see a row committed after its snapshot.
    return session.scalars(
        select(Quota).where(Quota.project_id == project_id).with_for_update()
    ).one()


def _touch(dialect: str) -> Insert:
    """INSERT a row, or on a duplicate write its key over itself: either way the writer
    holds the row's exclusive lock (PostgreSQL's DO NOTHING would not lock it)."""
    if dialect == "mysql":
        statement = mysql.insert(Quota)
        return statement.on_duplicate_key_update(project_id=statement.inserted.project_id)
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Quota)
    return upsert.on_conflict_do_update(
        index_elements=[Quota.project_id], set_={"project_id": upsert.excluded.project_id}
    )


def _count(session: Session, project_id: str, kind: QuotaKind) -> int:
    if kind == "vims":
        query: Select[Any] = select(func.coalesce(func.sum(VimStatusCount.count), 0)).where(
            VimStatusCount.tenant_id == project_id
        )
    elif kind == "webhooks":
        query = select(func.count()).select_from(Webhook).where(Webhook.project_id == project_id)
    else:
        query = (
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.project_id == project_id, ApiToken.revoked_at.is_(None))
        )
    if session.get_bind().dialect.name == "mysql":
        # InnoDB's plain reads see the snapshot of the transaction's first read, which may
        # predate the lock; a locking read sees what the writers before it committed.
        query = query.with_for_update(read=True)
    return int(session.scalar(query) or 0)
