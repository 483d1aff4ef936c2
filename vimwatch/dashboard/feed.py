"""New events, fanned out to every live stream (dashboards, `vimwatch vim watch`).

The api process polls the events table by id (`id > last seen`) twice a second. That works
the same whether the conductor runs in this process or in another one on another machine,
needs nothing from the transport, and costs one indexed query per poll however many
streams are open. With no stream open it only follows the newest id: reading every event
nobody will see cost a bulk import of 10,000 VIMs half a second. A stream that cannot
keep up is told to resynchronise rather than making the feed wait for it.

Ids are handed out at insert but become visible at commit, and on PostgreSQL or MariaDB
two conductors may commit out of id order. So an id skipped over is a gap, looked up again
on each poll for GAP_WAIT seconds before it is taken for a rolled-back insert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from vimwatch.context import RequestContext
from vimwatch.dashboard.queries import (
    FeedEvent,
    events_after,
    events_with_ids,
    latest_event_id,
)
from vimwatch.registry.database import Registry

LOG = logging.getLogger(__name__)
POLL = 0.5
BATCH = 1000
QUEUE = 1000
GAP_WAIT = 5.0
MAX_GAP = 1000  # a wider jump is a restored or reseeded table, not commits out of order


class Subscription:
    """One stream's view of the feed: its project's events in order, then None if it lagged
    QUEUE events behind or the server is stopping (nothing more is queued after None)."""

    def __init__(self, context: RequestContext) -> None:
        self.context = context
        self.queue: asyncio.Queue[FeedEvent | None] = asyncio.Queue()
        self.lagged = False
        self.closed = False

    def offer(self, event: FeedEvent) -> None:
        if self.lagged or self.closed or not self.context.can_see(event.project_id):
            return
        if self.queue.qsize() >= QUEUE:
            self.lagged = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)


class EventFeed:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._subscriptions: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self.last_seen = 0

    async def start(self) -> None:
        self.last_seen = await asyncio.to_thread(self._latest)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def subscribe(self, context: RequestContext) -> Subscription:
        subscription = Subscription(context)
        self._subscriptions.add(subscription)
        return subscription

    def close_streams(self) -> None:
        """End every stream: a stopping server would otherwise wait on them until its grace
        period runs out. Their clients reconnect (with Last-Event-ID) to the next server."""
        for subscription in self._subscriptions:
            subscription.closed = True
            subscription.queue.put_nowait(None)

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def _latest(self) -> int:
        with self._registry.reading() as session:
            return latest_event_id(session)

    def _newer(self, after: int, gaps: list[int]) -> tuple[list[FeedEvent], list[FeedEvent]]:
        with self._registry.reading() as session:
            return events_after(session, after, BATCH), events_with_ids(session, gaps)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        gaps: dict[int, float] = {}  # id -> when to stop waiting for it
        while True:
            try:
                if self._subscriptions:
                    events, late = await asyncio.to_thread(self._newer, self.last_seen, list(gaps))
                else:
                    gaps.clear()
                    events, late = [], []
                    self.last_seen = await asyncio.to_thread(self._latest)
            except Exception as exc:  # the feed must outlive any one bad poll
                LOG.warning("event feed cannot read the registry: %s", type(exc).__name__)
                events, late = [], []
            now = loop.time()
            for event in late:
                gaps.pop(event.id, None)
                self._publish(event)
            for event in events:
                if event.id - self.last_seen <= MAX_GAP:
                    missing = range(self.last_seen + 1, event.id)
                    gaps.update((gap, now + GAP_WAIT) for gap in missing)
                self._publish(event)
                self.last_seen = event.id
            for gap in [gap for gap, until in gaps.items() if until < now]:
                del gaps[gap]
            if len(events) < BATCH:
                await asyncio.sleep(POLL)

    def _publish(self, event: FeedEvent) -> None:
        for subscription in self._subscriptions:
            subscription.offer(event)
