"""The conductor's one job: apply a monitor's status change to the registry.

A status change, its MONITOR event and its webhook deliveries are written in one
transaction, with a guarded UPDATE (live VIM, different status) so that the call is
idempotent: a retried or duplicated call, or one for a VIM deleted meanwhile, changes
nothing and writes no event.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from vimwatch.errors import BadRequest
from vimwatch.metrics.instruments import STATUS_TRANSITIONS
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.events import record_event
from vimwatch.registry.models import Vim
from vimwatch.webhooks.outbox import enqueue_status_change

LOG = logging.getLogger(__name__)
MONITOR_STATUSES = frozenset({"REACHABLE", "UNREACHABLE"})


def apply_status_change(
    registry: Registry, vim_id: str, status: str, *, quiet: bool = False
) -> str | None:
    """Set the VIM's status; return the status it now has, or None if it no longer exists.

    `quiet` changes are those of a flapping VIM: the status stays true, but they write no
    event and call no webhook, so one unstable VIM cannot flood either.
    """
    if status not in MONITOR_STATUSES:
        raise BadRequest(f"status must be one of {sorted(MONITOR_STATUSES)}, not {status!r}")
    now = utcnow()
    with registry.transaction() as session:
        changed = session.execute(
            update(Vim)
            .where(Vim.id == vim_id, Vim.deleted_at.is_(None), Vim.status != status)
            .values(status=status, updated_at=now)
        ).rowcount
        row = session.execute(
            select(Vim.status, Vim.tenant_id, Vim.name, Vim.type).where(
                Vim.id == vim_id, Vim.deleted_at.is_(None)
            )
        ).first()
        if row is None:
            return None
        if changed and not quiet:
            event = record_event(
                session,
                vim_id=vim_id,
                tenant_id=row.tenant_id,
                state=status,
                event_type="MONITOR",
                timestamp=now,
            )
            session.flush()
            # Same transaction: the change and the webhooks' deliveries commit together.
            enqueue_status_change(session, event, row.name, row.type)
    if changed:
        STATUS_TRANSITIONS.labels(status).inc()
        LOG.info("VIM %s is now %s", vim_id, status)
    return row.status


class ConductorEndpoint:
    """The RPC surface of the conductor: only the methods listed in `methods` are callable."""

    methods = ("update_vim", "record_flapping")

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def update_vim(self, vim_id: str, status: str, quiet: bool = False) -> str | None:
        return apply_status_change(self._registry, vim_id, status, quiet=quiet)

    def record_flapping(self, vim_id: str, started: bool) -> None:
        record_flapping(self._registry, vim_id, started)


def record_flapping(registry: Registry, vim_id: str, started: bool) -> None:
    """One FLAPPING event when a VIM starts flapping and one when it stops."""
    with registry.transaction() as session:
        row = session.execute(
            select(Vim.status, Vim.tenant_id).where(Vim.id == vim_id, Vim.deleted_at.is_(None))
        ).first()
        if row is None:
            return
        record_event(
            session,
            vim_id=vim_id,
            tenant_id=row.tenant_id,
            state=row.status,
            event_type="FLAPPING",
            timestamp=utcnow(),
            details="flapping started" if started else "flapping stopped",
        )
    LOG.warning("VIM %s %s", vim_id, "is flapping" if started else "stopped flapping")
