"""Tacker's legacy events API: what happened to each VIM, scoped to the caller's project."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.api.listing import present_filters, project
from vimwatch.context import RequestContext
from vimwatch.errors import NotFound
from vimwatch.registry.events import MAX_EVENT_ID, get_event, list_events, parse_event_id
from vimwatch.registry.models import Event

router = APIRouter(tags=["events"])
PAGE_CAP = 10_000


def event_view(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "resource_id": event.resource_id,
        "resource_type": event.resource_type,
        "resource_state": event.resource_state,
        "timestamp": str(event.timestamp),
        "event_type": event.event_type,
        "event_details": event.event_details,
    }


# python-tackerclient 1.x's `openstack nfv event list --resource-state S` sends the value of
# --resource-id as resource_state (and nothing when --resource-id is absent). A state is never
# a resource id, so such a value can only come from that bug: it is dropped, and the list
# shows the resource's events in every state rather than none.
@router.get("/v1.0/events")
@router.get("/v1.0/events.json", include_in_schema=False)
async def list_all_events(
    request: Request,
    context: RequestContext = Depends(request_context),
    id: list[str] = Query(default=[]),  # noqa: A002
    resource_id: list[str] = Query(default=[]),
    resource_type: list[str] = Query(default=[]),
    resource_state: list[str] = Query(default=[]),
    event_type: list[str] = Query(default=[]),
    fields: list[str] = Query(default=[]),
    limit: int | None = Query(default=None, ge=1, le=PAGE_CAP),
    marker: int | None = Query(default=None, ge=0, le=MAX_EVENT_ID),
) -> dict[str, Any]:
    """Oldest first; pages by `limit` and `marker` (the last event id seen), capped at
    PAGE_CAP events when no limit is given so an unbounded history stays cheap to ask."""
    filters = present_filters(
        {
            "id": id,
            "resource_id": resource_id,
            "resource_type": resource_type,
            "resource_state": [s for s in resource_state if s not in resource_id],
            "event_type": event_type,
        }
    )

    page = limit or PAGE_CAP

    def load() -> list[dict[str, Any]]:
        with request.app.state.registry.reading() as session:
            rows = list_events(session, context, filters, limit=page, after_id=marker)
            return [event_view(e) for e in rows]

    events = await run_in_threadpool(load)
    body: dict[str, Any] = {"events": [project(e, fields) for e in events]}
    if len(events) == page:
        after = request.url.include_query_params(limit=page, marker=events[-1]["id"])
        body["events_links"] = [{"rel": "next", "href": str(after)}]
    return body


@router.get("/v1.0/events/{event_id}")
async def show_event(
    event_id: str,
    request: Request,
    context: RequestContext = Depends(request_context),
    fields: list[str] = Query(default=[]),
) -> dict[str, Any]:
    raw = event_id.removesuffix(".json")

    number = parse_event_id(raw)

    def load() -> dict[str, Any] | None:
        if number is None:
            return None
        with request.app.state.registry.reading() as session:
            event = get_event(session, context, number)
            return event_view(event) if event else None

    event = await run_in_threadpool(load)
    if event is None:
        raise NotFound(
            f"Specified Event id {raw} is invalid. Please verify and pass a valid Event id"
        )
    return {"event": project(event, fields)}
