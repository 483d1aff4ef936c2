"""Sends the outbox's due deliveries from the api process, off the monitors' path.

The worker claims at most as many deliveries as it has free sending slots, sends each in
its own task (a receiver that hangs holds one slot for at most the send timeout), and
settles each in the database. Which due deliveries fill the free slots is fair across
projects and receivers (webhooks.fairness). Several api processes may run workers: claims
are leases, so each delivery is sent by one worker at a time, and one that died mid-send
is picked up again when its lease runs out. That is what makes delivery at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import timedelta
from functools import partial

import httpx
from sqlalchemy.exc import SQLAlchemyError

from vimwatch.instruments import WEBHOOK_DELIVERIES
from vimwatch.registry.database import Registry, utcnow
from vimwatch.secrets.keyring import Keyring, KeyringError
from vimwatch.webhooks import fairness, outbox
from vimwatch.webhooks.sender import TIMEOUT, DeliveryFailed, post_signed

LOG = logging.getLogger(__name__)
POLL = 0.5
SLOTS = 32
# Due deliveries read each poll for the fair choice, besides every project's oldest.
CANDIDATES = 256
LEASE = timedelta(seconds=TIMEOUT + 30)


class DeliveryWorker:
    def __init__(self, registry: Registry, keyring: Keyring) -> None:
        self._registry = registry
        self._keyring = keyring
        self._client: httpx.AsyncClient | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._sending: dict[asyncio.Task[None], outbox.Claimed] = {}
        self._breakers = fairness.CircuitBreakers()

    def start(self) -> None:
        self._client = httpx.AsyncClient(follow_redirects=False)
        self._loop_task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop sending, and hand back the claims of deliveries cut short so that the next
        worker (or this process restarted) sends them at once rather than after the lease."""
        cut_short = [delivery.delivery_id for delivery in self._sending.values()]
        tasks = [t for t in (self._loop_task, *self._sending) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop_task = None
        if cut_short:
            try:
                await asyncio.to_thread(self._release, cut_short)
            except SQLAlchemyError:
                LOG.warning("could not hand back webhook deliveries; they resume in %s", LEASE)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            free = SLOTS - len(self._sending)
            if free > 0:
                in_flight = list(self._sending.values())
                choose = partial(
                    fairness.choose,
                    free=free,
                    in_flight_projects=Counter(d.project_id for d in in_flight),
                    in_flight_destinations=Counter(fairness.destination(d.url) for d in in_flight),
                    breakers=self._breakers,
                    now=asyncio.get_running_loop().time(),
                )
                try:
                    claimed = await asyncio.to_thread(self._claim, choose)
                except Exception as exc:  # the worker must outlive any one bad round
                    LOG.warning("cannot read the webhook outbox, retrying: %s", type(exc).__name__)
                    claimed = []
                for delivery in claimed:
                    task = asyncio.get_running_loop().create_task(self._deliver(delivery))
                    self._sending[task] = delivery
                    task.add_done_callback(self._forget)
            await asyncio.sleep(POLL)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._sending.pop(task, None)

    def _release(self, delivery_ids: list[int]) -> None:
        with self._registry.transaction() as session:
            outbox.release(session, delivery_ids)

    def _claim(self, choose: outbox.Chooser) -> list[outbox.Claimed]:
        with self._registry.transaction() as session:
            return outbox.claim_due(session, utcnow(), CANDIDATES, LEASE, choose)

    async def _deliver(self, delivery: outbox.Claimed) -> None:
        error, answered = None, True
        try:
            secret = self._keyring.unseal(delivery.sealed_secret).decode()
            assert self._client is not None, "deliveries run only between start and stop"
            await post_signed(
                self._client,
                delivery.url,
                secret,
                delivery.body,
                delivery=str(delivery.delivery_id),
                event=outbox.STATUS_CHANGED,
            )
        except DeliveryFailed as exc:
            error, answered = str(exc), exc.answered
        except KeyringError as exc:
            error = str(exc)
        self._breakers.record(
            fairness.destination(delivery.url), answered, asyncio.get_running_loop().time()
        )
        try:
            outcome = await asyncio.to_thread(self._settle, delivery, error)
        except SQLAlchemyError as exc:
            # The lease runs out and the delivery is sent again: at least once, not once.
            LOG.warning("cannot record webhook delivery %d: %s", delivery.delivery_id, exc)
            return
        WEBHOOK_DELIVERIES.labels(outcome).inc()
        if outcome != "delivered":
            LOG.warning(
                "webhook delivery %d to webhook %s failed (%s); %s",
                delivery.delivery_id,
                delivery.webhook_id,
                error,
                "giving up" if outcome == "failed" else "will retry",
            )

    def _settle(self, delivery: outbox.Claimed, error: str | None) -> str:
        with self._registry.transaction() as session:
            return outbox.settle(session, delivery, utcnow(), error)
