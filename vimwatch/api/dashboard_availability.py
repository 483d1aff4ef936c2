"""The dashboard's availability data: 30-day bars of the VIMs on screen."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.context import RequestContext
from vimwatch.registry.database import utcnow
from vimwatch.services.availability import daily_bars

router = APIRouter(tags=["dashboard"])
DAYS = 30
MOST_VIMS = 500  # the dashboard's largest page


@router.get("/dashboard/api/availability")
async def dashboard_availability(
    request: Request,
    context: RequestContext = Depends(request_context),
    id: list[str] = Query(default=[], max_length=MOST_VIMS),  # noqa: A002 - as /v1.0/vims
) -> dict[str, Any]:
    """Per VIM (of those asked for that the caller may see): one cell per UTC day, oldest
    first, and whether it is in maintenance now."""
    bars = partial(daily_bars, request.app.state.registry, context, id, DAYS, utcnow())
    return {"days": DAYS, "vims": await run_in_threadpool(bars)}
