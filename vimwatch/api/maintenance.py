"""/v1.0/maintenance_windows: planned maintenance, during which no alert goes out."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.api.draining import committed
from vimwatch.availability.periods import parse_time
from vimwatch.context import RequestContext
from vimwatch.services import maintenance
from vimwatch.services.storable import Text

router = APIRouter(tags=["maintenance"])


class WindowCreate(BaseModel):
    """Exactly one of `vim_ids`, `project` and `all`; `start` defaults to now. Times are
    ISO 8601, UTC unless they carry an offset."""

    model_config = ConfigDict(extra="forbid")

    vim_ids: list[Text] = Field(default_factory=list, max_length=maintenance.MAX_VIMS)
    project: Text | None = Field(default=None, min_length=1, max_length=64)
    all: bool = False
    start: Text | None = None
    end: Text
    weekly: bool = False
    reason: Text = Field(default="", max_length=1024)

    @field_validator("start", "end")
    @classmethod
    def _a_time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time(value, "a time")  # refused here with its reason, as a 400
        return value


class WindowCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maintenance_window: WindowCreate


def _time(value: str | None, what: str) -> datetime | None:
    return None if value is None else parse_time(value, what)


@router.post("/v1.0/maintenance_windows", status_code=201)
async def add_window(
    body: WindowCreateRequest, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    spec = body.maintenance_window
    add = partial(
        maintenance.add,
        request.app.state.registry,
        context,
        vim_ids=spec.vim_ids,
        project=spec.project,
        everything=spec.all,
        start=_time(spec.start, "start"),
        end=parse_time(spec.end, "end"),
        weekly=spec.weekly,
        reason=spec.reason,
    )
    return {"maintenance_window": await committed(add)}


@router.get("/v1.0/maintenance_windows")
async def list_windows(
    request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    windows = await run_in_threadpool(maintenance.list_windows, request.app.state.registry, context)
    return {"maintenance_windows": windows}


@router.delete("/v1.0/maintenance_windows/{window_id}", status_code=204, response_class=Response)
async def delete_window(
    window_id: str, request: Request, context: RequestContext = Depends(request_context)
) -> Response:
    await committed(partial(maintenance.delete, request.app.state.registry, context, window_id))
    return Response(status_code=204)
