"""The delivery outbox: enqueued with the status change, claimed and settled by workers.

Retry policy: a failed attempt n (1, 2, ...) is tried again after min(2**(n-1), 300)
seconds (1 s, 2 s, 4 s ... then every 5 minutes) until the delivery is a day old; then it
is marked failed and kept, with its last error, for `webhook list` to show.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from vimwatch.registry.models import Event, Webhook, WebhookDelivery
from vimwatch.webhooks.fairness import Candidate

STATUS_CHANGED = "vim.status_changed"
FIRST_RETRY = 1.0
LONGEST_WAIT = 300.0
GIVE_UP_AFTER = timedelta(days=1)
_CHUNK = 1000  # projects per IN (...), below every database's limit on bound parameters
#: Picks, among due candidates, the delivery ids a worker claims now.
Chooser = Callable[[list[Candidate]], list[int]]


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_WAIT)


def status_change_body(event: Event, vim_name: str, vim_type: str) -> str:
    return json.dumps(
        {
            "event": STATUS_CHANGED,
            "event_id": event.id,
            "vim_id": event.resource_id,
            "vim_name": vim_name,
            "vim_type": vim_type,
            "project_id": event.tenant_id,
            "status": event.resource_state,
            "timestamp": event.timestamp.isoformat() + "Z",
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def enqueue_status_changes(session: Session, changes: list[tuple[Event, str, str]]) -> int:
    """One pending delivery per webhook of the VIM's project, for each (event, VIM name,
    VIM type) of `changes`, in the caller's transaction. The webhooks of every project in
    the batch are read in one query: a query per change was a third of a conductor's
    work when a thousand VIMs changed together.

    The events must be flushed (they need their ids). Returns how many were queued.
    """
    projects = sorted({event.tenant_id for event, _, _ in changes})
    webhooks: dict[str, list[str]] = {}
    for start in range(0, len(projects), _CHUNK):
        for webhook_id, project_id in session.execute(
            select(Webhook.id, Webhook.project_id).where(
                Webhook.project_id.in_(projects[start : start + _CHUNK])
            )
        ):
            webhooks.setdefault(project_id, []).append(webhook_id)
    if not webhooks:
        return 0
    deliveries = [
        WebhookDelivery(
            webhook_id=webhook_id,
            event_id=event.id,
            body=status_change_body(event, vim_name, vim_type),
            attempts=0,
            next_attempt_at=event.timestamp,
            created_at=event.timestamp,
        )
        for event, vim_name, vim_type in changes
        for webhook_id in webhooks.get(event.tenant_id, ())
    ]
    session.add_all(deliveries)
    return len(deliveries)


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    project_id: str
    webhook_id: str
    event_id: int
    url: str
    sealed_secret: str
    body: str
    attempts: int
    created_at: datetime


def _pending(now: datetime):  # noqa: ANN202 - a SQL condition
    return and_(
        WebhookDelivery.delivered_at.is_(None),
        WebhookDelivery.failed_at.is_(None),
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
    )


def due_candidates(session: Session, now: datetime, limit: int) -> list[Candidate]:
    """The `limit` oldest due deliveries, and the oldest of every project with one due.

    The second part is what lets a fair chooser see each project's head even when one
    project has thousands of deliveries due ahead of it.
    """
    pending = _pending(now)
    oldest = (
        select(WebhookDelivery.id)
        .where(pending)
        .order_by(WebhookDelivery.id)
        .limit(limit)
        .subquery()
    )
    heads = (
        select(func.min(WebhookDelivery.id))
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(pending)
        .group_by(Webhook.project_id)
        .subquery()
    )
    ids = set(session.scalars(select(oldest.c.id))) | set(session.scalars(select(heads)))
    if not ids:
        return []
    rows = session.execute(
        select(WebhookDelivery.id, Webhook.project_id, Webhook.url)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.id.in_(sorted(ids)[:_CHUNK]))
        .order_by(WebhookDelivery.id)
    )
    return [Candidate(delivery_id, project_id, url) for delivery_id, project_id, url in rows]


def claim_due(
    session: Session,
    now: datetime,
    limit: int,
    lease: timedelta,
    choose: Chooser | None = None,
) -> list[Claimed]:
    """Deliveries due now that this worker won; a conditional UPDATE per row decides.
    `choose` picks among the candidates (default: the `limit` oldest)."""
    candidates = due_candidates(session, now, limit)
    wanted = (
        choose(candidates)
        if choose is not None
        else [candidate.delivery_id for candidate in candidates[:limit]]
    )
    won = [
        delivery_id
        for delivery_id in wanted
        if cast(
            "CursorResult[Any]",
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, _pending(now))
                .values(claimed_until=now + lease)
            ),
        ).rowcount
    ]
    if not won:
        return []
    rows = session.execute(
        select(WebhookDelivery, Webhook.project_id, Webhook.url, Webhook.sealed_secret)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.id.in_(won))
        .order_by(WebhookDelivery.id)
    )
    return [
        Claimed(
            d.id, project, d.webhook_id, d.event_id, url, sealed, d.body, d.attempts, d.created_at
        )
        for d, project, url, sealed in rows
    ]


def settle(session: Session, claimed: Claimed, now: datetime, error: str | None) -> str:
    """Record an attempt's outcome: 'delivered', 'retry' or 'failed' (given up)."""
    attempts = claimed.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "claimed_until": None, "last_error": error}
    if error is None:
        outcome = "delivered"
        values["delivered_at"] = now
    elif now - claimed.created_at >= GIVE_UP_AFTER:
        outcome = "failed"
        values["failed_at"] = now
    else:
        outcome = "retry"
        values["next_attempt_at"] = now + timedelta(seconds=retry_delay(attempts))
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == claimed.delivery_id).values(**values)
    )
    return outcome


def release(session: Session, delivery_ids: list[int]) -> None:
    """Give claims back before their lease ends (the worker is stopping)."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.delivered_at.is_(None))
        .values(claimed_until=None)
    )


def pending_count(session: Session) -> int:
    pending = session.scalar(
        select(func.count()).where(
            WebhookDelivery.delivered_at.is_(None), WebhookDelivery.failed_at.is_(None)
        )
    )
    return pending or 0


def drop_for_webhook(session: Session, webhook_id: str) -> None:
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
