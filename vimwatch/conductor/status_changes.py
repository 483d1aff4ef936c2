"""The conductor's one job: apply a monitor's status change to the registry.

A status change, its MONITOR event and its webhook deliveries are written in one
transaction (a VIM inside a maintenance window gets its event, marked `in maintenance`,
and no delivery), with a guarded UPDATE (live VIM, different status) so that the call is
idempotent: a retried or duplicated call, or one for a VIM deleted meanwhile, changes
nothing and writes no event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from vimwatch.contract import MONITOR_STATUSES
from vimwatch.errors import BadRequest
from vimwatch.instruments import STATUS_TRANSITIONS
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.events import record_event
from vimwatch.registry.maintenance import in_maintenance
from vimwatch.registry.models import Event, Vim
from vimwatch.webhooks.outbox import enqueue_status_changes

LOG = logging.getLogger(__name__)
# Most changes one transaction carries; a burst larger than this takes several.
_MAX_BATCH = 500
_CHUNK = 1000  # ids per IN (...), below every database's limit on bound parameters
_MAX_DETAILS = 1000
#: (vim_id, status, quiet, details): details say which check changed and why.
Change = tuple[str, str, bool, str]
# A live VIM as _lock_live reads it: id, status, tenant_id, name, type.
_LiveRow = Row[str, str, str, str, str]
IN_MAINTENANCE = "in maintenance"


def apply_status_change(
    registry: Registry, vim_id: str, status: str, *, quiet: bool = False
) -> str | None:
    """Set the VIM's status; return the status it now has, or None if it no longer exists.

    `quiet` changes are those of a flapping VIM: the status stays true, but they write no
    event and call no webhook, so one unstable VIM cannot flood either.
    """
    return apply_status_changes(registry, [(vim_id, status, quiet)])[0]


def apply_status_changes(
    registry: Registry, changes: list[tuple[str, str, bool]] | list[Change]
) -> list[str | None]:
    """`apply_status_change` for several (vim_id, status, quiet) in one transaction, in
    order: when a thousand VIMs behind one link go down together, a commit per change made
    the last of them wait seconds. Set-based: the VIMs are read and locked in one
    statement and updated in one per status, so a batch costs little more than one."""
    changes = [_with_details(change) for change in changes]
    for _, status, _, _ in changes:
        if status not in MONITOR_STATUSES:
            raise BadRequest(f"status must be one of {sorted(MONITOR_STATUSES)}, not {status!r}")
    now = utcnow()
    results: list[str | None] = []
    applied: list[Change] = []
    with registry.transaction() as session:
        rows = _lock_live(session, list({vim_id for vim_id, _, _, _ in changes}))
        current = {vim_id: row.status for vim_id, row in rows.items()}
        for vim_id, status, quiet, details in changes:
            if vim_id not in current:
                results.append(None)
                continue
            if current[vim_id] != status:
                current[vim_id] = status
                applied.append((vim_id, status, quiet, details))
            results.append(current[vim_id])
        final = {vim_id: status for vim_id, status, _, _ in applied}
        for status in set(final.values()):
            ids = [vim_id for vim_id, wanted in final.items() if wanted == status]
            for start in range(0, len(ids), _CHUNK):
                session.execute(
                    update(Vim)
                    .where(Vim.id.in_(ids[start : start + _CHUNK]))
                    .values(status=status, updated_at=now)
                )
        resting = in_maintenance(
            session, {(vim_id, rows[vim_id].tenant_id) for vim_id, _, _, _ in applied}, now
        )
        events = [
            (
                _monitor_event(session, rows[vim_id], status, now, details, vim_id in resting),
                rows[vim_id],
            )
            for vim_id, status, quiet, details in applied
            if not quiet
        ]
        alerting = [(event, row.name, row.type) for event, row in events if row.id not in resting]
        if alerting:
            session.flush()
            # Same transaction: the changes and the webhooks' deliveries commit together.
            enqueue_status_changes(session, alerting)
    for vim_id, status, _, _ in applied:
        STATUS_TRANSITIONS.labels(status).inc()
        LOG.info("VIM %s is now %s", vim_id, status)
    return results


def _lock_live(session: Session, vim_ids: list[str]) -> dict[str, _LiveRow]:
    """The live VIMs among `vim_ids`, locked until commit so no other conductor changes
    them between this read and the update (SQLite's one writer needs no lock)."""
    rows: dict[str, _LiveRow] = {}
    for start in range(0, len(vim_ids), _CHUNK):
        query = (
            select(Vim.id, Vim.status, Vim.tenant_id, Vim.name, Vim.type)
            .where(Vim.id.in_(vim_ids[start : start + _CHUNK]), Vim.deleted_at.is_(None))
            .with_for_update()
        )
        rows.update((row.id, row) for row in session.execute(query))
    return rows


def _monitor_event(
    session: Session, row: _LiveRow, status: str, now: datetime, details: str, resting: bool
) -> Event:
    return record_event(
        session,
        vim_id=row.id,
        tenant_id=row.tenant_id,
        state=status,
        event_type="MONITOR",
        timestamp=now,
        details=f"{IN_MAINTENANCE}; {details}"
        if resting and details
        else (IN_MAINTENANCE if resting else details),
    )


def _with_details(change: tuple[Any, ...]) -> Change:
    """A change as (vim_id, status, quiet, details); details are "" when not given."""
    vim_id, status, quiet, *details = change
    return (vim_id, status, quiet, details[0] if details else "")


class _GroupCommit:
    """Applies the changes that arrive while a transaction is running in the next one.

    One change alone is applied at once, as before; under a burst, each commit carries
    everything that queued behind the previous one. Every caller still gets its own
    answer, and a batch that fails is retried change by change, so one bad change cannot
    fail the others.
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._queued: list[tuple[Change, asyncio.Future[str | None]]] = []
        self._running = False

    async def apply(self, changes: list[Change]) -> list[str | None]:
        """Each change's outcome; the first failed change's error, if any, for the call."""
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in changes]
        self._queued += zip(changes, futures, strict=True)
        if not self._running:
            self._running = True
            loop.create_task(self._drain())
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        applied: list[str | None] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            applied.append(outcome)
        return applied

    async def _drain(self) -> None:
        try:
            while self._queued:
                # A caller that gave up waiting (its call timed out) retries on its own;
                # applying its change anyway was work nobody awaited, and under a burst
                # those left-overs outgrew what one commit clears: the queue and its
                # cancelled futures grew by the hundred thousand while callers timed out.
                self._queued = [(change, f) for change, f in self._queued if not f.done()]
                batch, self._queued = self._queued[:_MAX_BATCH], self._queued[_MAX_BATCH:]
                if not batch:
                    break
                changes = [change for change, _ in batch]
                results: Sequence[str | None | _Failed]
                try:
                    results = await asyncio.to_thread(apply_status_changes, self._registry, changes)
                except Exception as exc:  # noqa: BLE001 - handed to the callers
                    if len(batch) == 1:
                        results = [_Failed(exc)]
                    else:
                        results = await asyncio.to_thread(self._one_by_one, batch)
                for (_, future), result in zip(batch, results, strict=True):
                    _settle(future, result)
        finally:
            self._running = False

    def _one_by_one(
        self, batch: list[tuple[Change, asyncio.Future[str | None]]]
    ) -> list[str | None | _Failed]:
        outcomes: list[str | None | _Failed] = []
        for change, _ in batch:
            try:
                outcomes.append(apply_status_changes(self._registry, [change])[0])
            except Exception as exc:  # noqa: BLE001 - handed to that change's caller
                outcomes.append(_Failed(exc))
        return outcomes


@dataclass(frozen=True)
class _Failed:
    error: Exception


def _settle(future: asyncio.Future[str | None], result: str | None | _Failed) -> None:
    if future.done():  # its caller gave up waiting (a call timeout)
        return
    if isinstance(result, _Failed):
        future.set_exception(result.error)
    else:
        future.set_result(result)


class ConductorEndpoint:
    """The RPC surface of the conductor: only the methods listed in `methods` are callable."""

    methods = ("update_vims", "record_flapping")

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._changes = _GroupCommit(registry)

    async def update_vims(self, changes: list[list[Any]]) -> list[str | None]:
        """Apply [vim_id, status, quiet] or [vim_id, status, quiet, details] each (details:
        which check changed and why, for the event); answers each VIM's status now, in order, or
        None for a VIM that no longer exists. A change that fails fails the call: every
        change is idempotent, so the engine simply reports them all again."""
        return await self._changes.apply(_parse_changes(changes))

    def record_flapping(self, vim_id: str, started: bool) -> None:
        record_flapping(self._registry, vim_id, started)


def _parse_changes(changes: Any) -> list[Change]:
    """An RPC's changes, checked before any is applied: a bad one changes nothing."""
    if not isinstance(changes, list):
        raise BadRequest("changes must be a list of [vim_id, status, quiet]")
    parsed = []
    for change in changes:
        if not (isinstance(change, list | tuple) and len(change) in (3, 4)):
            raise BadRequest(f"a change is [vim_id, status, quiet], not {change!r}")
        vim_id, status, quiet, details = _with_details(tuple(change))
        if not (isinstance(vim_id, str) and isinstance(quiet, bool) and isinstance(details, str)):
            raise BadRequest(f"a change is [vim_id, status, quiet], not {change!r}")
        if status not in MONITOR_STATUSES:
            raise BadRequest(f"status must be one of {sorted(MONITOR_STATUSES)}, not {status!r}")
        parsed.append((vim_id, status, quiet, details[:_MAX_DETAILS]))
    return parsed


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
