"""Adding, listing, testing and deleting a project's webhooks; one method per API operation.

The signing secret is sealed with the keyring the VIM credentials use, and every view shows
it as `***`: the caller chose it, so it never needs to be shown back.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import case, func, select

from vimwatch.config import Settings
from vimwatch.context import RequestContext
from vimwatch.errors import BadRequest, NotFound, VimwatchError
from vimwatch.outbound import policy_for
from vimwatch.registry import quotas
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Webhook, WebhookDelivery
from vimwatch.secrets.credentials import MASK
from vimwatch.secrets.keyring import Keyring
from vimwatch.webhooks import outbox
from vimwatch.webhooks.sender import DeliveryFailed, post_signed

TEST_EVENT = "webhook.test"


class WebhookTestFailed(VimwatchError):
    """The receiver did not accept the test delivery (the message says why)."""

    status_code = 502


def _view(webhook: Webhook, counts: dict[str, Any] | None = None) -> dict[str, Any]:
    counts = counts or {}
    return {
        "id": webhook.id,
        "project_id": webhook.project_id,
        "url": webhook.url,
        "secret": MASK,
        "created_at": str(webhook.created_at),
        "pending": counts.get("pending", 0),
        "failed": counts.get("failed", 0),
        "last_error": counts.get("last_error"),
    }


class WebhookService:
    def __init__(self, registry: Registry, keyring: Keyring, settings: Settings) -> None:
        self._registry = registry
        self._keyring = keyring
        self._settings = settings
        self._outbound = policy_for(tuple(settings.outbound_denied))

    def add(
        self, context: RequestContext, url: str, secret: str, project_id: str | None = None
    ) -> dict[str, Any]:
        project = project_id or context.project_id
        if project != context.project_id and not context.is_admin:
            raise BadRequest("adding a webhook for another project requires the admin role")
        self._outbound.check(url, context, "the webhook's host")
        webhook = Webhook(
            id=str(uuid.uuid4()),
            project_id=project,
            url=url,
            sealed_secret=self._keyring.seal(secret.encode()),
            created_at=utcnow(),
        )
        with self._registry.transaction() as session:
            quotas.reserve(session, self._settings, project, "webhooks", 1)
            session.add(webhook)
        return _view(webhook)

    def list_webhooks(self, context: RequestContext) -> list[dict[str, Any]]:
        with self._registry.reading() as session:
            query = select(Webhook).order_by(Webhook.created_at, Webhook.id)
            if not context.is_admin:
                query = query.where(Webhook.project_id == context.project_id)
            webhooks = list(session.scalars(query))
            counts = self._counts(session, [w.id for w in webhooks])
        return [_view(w, counts.get(w.id)) for w in webhooks]

    def show(self, context: RequestContext, webhook_id: str) -> dict[str, Any]:
        with self._registry.reading() as session:
            webhook = self._find(session, context, webhook_id)
            return _view(webhook, self._counts(session, [webhook.id]).get(webhook.id))

    def delete(self, context: RequestContext, webhook_id: str) -> None:
        """The webhook and its undelivered deliveries go together."""
        with self._registry.transaction() as session:
            webhook = self._find(session, context, webhook_id)
            outbox.drop_for_webhook(session, webhook.id)
            session.delete(webhook)

    async def test(self, context: RequestContext, webhook_id: str) -> dict[str, Any]:
        """Send a signed test body now and say how the receiver answered."""

        def load() -> Webhook:
            with self._registry.reading() as session:
                return self._find(session, context, webhook_id)

        webhook = await asyncio.to_thread(load)
        await asyncio.to_thread(self._outbound.check, webhook.url, context, "the webhook's host")
        secret = self._keyring.unseal(webhook.sealed_secret).decode()
        body = json.dumps(
            {
                "event": TEST_EVENT,
                "webhook_id": webhook.id,
                "project_id": webhook.project_id,
                "timestamp": utcnow().isoformat() + "Z",
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        async with httpx.AsyncClient(follow_redirects=False) as client:
            try:
                status = await post_signed(
                    client, webhook.url, secret, body, delivery="test", event=TEST_EVENT
                )
            except DeliveryFailed as exc:
                raise WebhookTestFailed(
                    f"test delivery to webhook {webhook.id} failed: {exc}"
                ) from None
        return {"id": webhook.id, "delivered": True, "status_code": status}

    @staticmethod
    def _find(session: Any, context: RequestContext, webhook_id: str) -> Webhook:
        webhook = session.get(Webhook, webhook_id)
        if webhook is None or not context.can_see(webhook.project_id):
            raise NotFound(f"webhook {webhook_id} not found")
        return webhook

    @staticmethod
    def _counts(session: Any, webhook_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not webhook_ids:
            return {}
        open_ = (WebhookDelivery.delivered_at.is_(None)) & (WebhookDelivery.failed_at.is_(None))
        rows = session.execute(
            select(
                WebhookDelivery.webhook_id,
                func.sum(case((open_, 1), else_=0)),
                func.sum(case((WebhookDelivery.failed_at.is_not(None), 1), else_=0)),
                func.max(WebhookDelivery.id),
            )
            .where(WebhookDelivery.webhook_id.in_(webhook_ids))
            .group_by(WebhookDelivery.webhook_id)
        ).all()
        latest = {
            d.webhook_id: d.last_error
            for d in session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.id.in_([r[3] for r in rows]))
            )
        }
        return {
            webhook_id: {
                "pending": int(pending or 0),
                "failed": int(failed or 0),
                "last_error": latest.get(webhook_id),
            }
            for webhook_id, pending, failed, _ in rows
        }
