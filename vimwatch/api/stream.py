"""GET /v1.0/events/stream: every new event, live, as server-sent events.

Each SSE message carries one event as JSON with `id:` set to the event id, so a client
that reconnects with `Last-Event-ID` (browsers' EventSource do it themselves) first gets
what it missed, then live events. A client that falls too far behind gets one `resync`
message and should reload what it shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from vimwatch.api.auth import request_context
from vimwatch.context import RequestContext
from vimwatch.dashboard.queries import FeedEvent, events_after, latest_visible_event_id
from vimwatch.registry.events import parse_event_id

router = APIRouter(tags=["events"])
BACKLOG = 1000


def _message(event: FeedEvent) -> ServerSentEvent:
    return ServerSentEvent(data=event.as_dict(), id=str(event.id))


async def _last_visible(request: Request, context: RequestContext) -> int:
    """Where the live part of the stream starts, as far as the caller may know it."""
    published = request.app.state.feed.last_seen
    if context.is_admin:
        return published

    def newest() -> int:
        with request.app.state.registry.reading() as session:
            return latest_visible_event_id(session, context, published)

    return await asyncio.to_thread(newest)


@router.get("/v1.0/events/stream", response_class=EventSourceResponse)
async def stream_events(
    request: Request,
    context: RequestContext = Depends(request_context),
    last_event_id: str | None = Header(default=None),
) -> AsyncIterator[ServerSentEvent]:
    feed = request.app.state.feed
    subscription = feed.subscribe(context)
    resume_after = parse_event_id(last_event_id)
    try:
        if resume_after is not None:

            def missed() -> list[FeedEvent]:
                with request.app.state.registry.reading() as session:
                    return events_after(session, resume_after, BACKLOG + 1, context)

            backlog = await asyncio.to_thread(missed)
            if len(backlog) > BACKLOG:
                yield ServerSentEvent(event="resync", data={})
                backlog = []
        else:
            backlog = []
        sent = set()
        for event in backlog:
            sent.add(event.id)
            yield _message(event)
        yield ServerSentEvent(
            event="ready", data={"last_event_id": await _last_visible(request, context)}
        )
        while True:
            event = await subscription.queue.get()
            if event is None:
                if not subscription.closed:
                    yield ServerSentEvent(event="resync", data={})
                return
            # The client may have seen ids this process has not polled yet (another api).
            if event.id not in sent and (resume_after is None or event.id > resume_after):
                yield _message(event)
    finally:
        feed.unsubscribe(subscription)
