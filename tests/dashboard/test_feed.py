"""The event feed: every open stream gets each new event once, in order."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert

from tests.rows import vim_row
from vimwatch.context import RequestContext
from vimwatch.dashboard import feed as feed_module
from vimwatch.dashboard.feed import EventFeed
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Event, Vim

CONTEXT = RequestContext(project_id="p")


def _record(registry: Registry, count: int, state: str) -> None:
    with registry.transaction() as session:
        session.execute(
            insert(Event.__table__),
            [
                {
                    "resource_id": "vim-1",
                    "resource_type": "vim",
                    "resource_state": state,
                    "event_type": "MONITOR",
                    "timestamp": utcnow(),
                    "event_details": "",
                    "tenant_id": "p",
                }
                for _ in range(count)
            ],
        )


async def _settle() -> None:
    await asyncio.sleep(feed_module.POLL * 3)


async def test_a_stream_opened_later_gets_only_what_happens_after(
    registry: Registry, monkeypatch
) -> None:
    monkeypatch.setattr(feed_module, "POLL", 0.05)
    with registry.transaction() as session:
        session.execute(insert(Vim.__table__), [vim_row("vim-1")])
    _record(registry, 3, "PENDING")
    feed = EventFeed(registry)
    await feed.start()
    try:
        _record(registry, 5, "UNREACHABLE")  # while nobody listens
        await _settle()
        subscription = feed.subscribe(CONTEXT)
        _record(registry, 2, "REACHABLE")
        await _settle()
        seen = [subscription.queue.get_nowait() for _ in range(subscription.queue.qsize())]
        assert [event.status for event in seen] == ["REACHABLE", "REACHABLE"]
        assert seen[0].id + 1 == seen[1].id == feed.last_seen
        assert seen[0].vim_name == "vim-1"
    finally:
        await feed.stop()


async def test_with_nobody_listening_the_feed_keeps_up_with_the_newest_event(
    registry: Registry, monkeypatch
) -> None:
    monkeypatch.setattr(feed_module, "POLL", 0.05)
    feed = EventFeed(registry)
    await feed.start()
    try:
        assert feed.last_seen == 0
        _record(registry, 4, "PENDING")
        await _settle()
        assert feed.last_seen == 4
    finally:
        await feed.stop()
