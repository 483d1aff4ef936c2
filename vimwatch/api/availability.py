"""Availability reports: GET /v1.0/vims/{id}/availability and the fleet's, worst first."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.availability.periods import DEFAULT_WINDOW, report_period
from vimwatch.context import RequestContext
from vimwatch.registry.database import utcnow
from vimwatch.registry.fleet_summary import FleetSummary
from vimwatch.services import availability

router = APIRouter(tags=["availability"])
PAGE_CAP = 10_000
_WINDOW = Query(default=None, description="the last 1h, 24h, 7d, 30d... (default 30d)")
_SINCE = Query(default=None, description="ISO 8601 start, instead of a window")
_UNTIL = Query(default=None, description="ISO 8601 end (default now)")


@router.get("/v1.0/vims/{vim_id}/availability")
async def vim_availability(
    vim_id: str,
    request: Request,
    context: RequestContext = Depends(request_context),
    window: str | None = _WINDOW,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
) -> dict[str, Any]:
    start, end = report_period(utcnow(), window, since, until)
    report = partial(
        availability.vim_report, request.app.state.registry, context, vim_id, start, end
    )
    return {"availability": await run_in_threadpool(report)}


@router.get("/v1.0/availability")
async def fleet_availability(
    request: Request,
    context: RequestContext = Depends(request_context),
    window: str | None = _WINDOW,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    tenant_id: str | None = Query(default=None, min_length=1, max_length=64),
    limit: int = Query(default=100, ge=1, le=PAGE_CAP),
    marker: str | None = Query(default=None, max_length=36),
) -> dict[str, Any]:
    """Worst first. The next page's link pins the period, so that pages agree. A standard
    window is served from the fleet summary kept by the background job (its period is
    at most a refresh old, and stated in the answer); any other period is computed."""
    now = utcnow()
    start, end = report_period(now, window, since, until)
    summary: FleetSummary | None = getattr(request.app.state, "availability", None)
    snapshot = None
    if summary is not None:
        if since is None and until is None:
            snapshot = summary.latest(window or DEFAULT_WINDOW, now)
        else:
            snapshot = summary.of_period(start, end)
    if snapshot is not None:
        start, end = snapshot.since, snapshot.until
    report = partial(
        availability.fleet_report,
        request.app.state.registry,
        context,
        start,
        end,
        project=tenant_id,
        limit=limit,
        marker=marker,
        snapshot=snapshot,
    )
    result = await run_in_threadpool(report)
    body: dict[str, Any] = {"availability": result["total"], "vims": result["vims"]}
    if result["more"]:
        pinned = {"since": start.isoformat(), "until": end.isoformat(), "limit": limit}
        after = request.url.remove_query_params("window").include_query_params(
            **pinned, marker=result["vims"][-1]["id"]
        )
        body["vims_links"] = [{"rel": "next", "href": str(after)}]
    return body
