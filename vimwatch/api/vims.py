"""Tacker's legacy VIM API: /v1.0/vims, with and without the `.json` suffix the clients add."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.api.listing import present_filters, project
from vimwatch.api.schemas import VimCreate, VimCreateRequest, VimUpdateRequest
from vimwatch.context import RequestContext
from vimwatch.services.vim_import import MAX_IMPORT
from vimwatch.services.vims import VimService

router = APIRouter(tags=["vims"])
# Most VIMs one list response holds. Without `limit` (Tacker's clients send none) a list
# holds up to this many and links to the rest, rather than serialising a whole fleet.
PAGE_CAP = 10_000


def _service(request: Request) -> VimService:
    return request.app.state.vims


def _vim_id(raw: str) -> str:
    return raw.removesuffix(".json")


@router.get("/v1.0/vims")
@router.get("/v1.0/vims.json", include_in_schema=False)
async def list_vims(
    request: Request,
    context: RequestContext = Depends(request_context),
    id: list[str] = Query(default=[]),  # noqa: A002 - the API's own filter name
    name: list[str] = Query(default=[]),
    type: list[str] = Query(default=[]),  # noqa: A002
    tenant_id: list[str] = Query(default=[]),
    status: list[str] = Query(default=[]),
    is_default: list[str] = Query(default=[]),
    fields: list[str] = Query(default=[]),
    limit: int | None = Query(default=None, ge=1, le=PAGE_CAP),
    marker: str | None = Query(default=None),
) -> dict[str, Any]:
    filters = present_filters(
        {
            "id": id,
            "name": name,
            "type": type,
            "tenant_id": tenant_id,
            "status": status,
            "is_default": is_default,
        }
    )
    page = limit or PAGE_CAP
    vims = await run_in_threadpool(
        partial(_service(request).list, limit=page, marker=marker), context, filters
    )
    body: dict[str, Any] = {"vims": [project(vim, fields) for vim in vims]}
    if len(vims) == page:
        # Tacker's clients follow `<collection>_links` to the next page by themselves.
        after = request.url.include_query_params(limit=page, marker=vims[-1]["id"])
        body["vims_links"] = [{"rel": "next", "href": str(after)}]
    return body


@router.get("/v1.0/vims/counts")
async def count_vims(
    request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    """Live VIMs by status, without listing them: what a fleet overview needs."""
    counts = await run_in_threadpool(_service(request).counts, context)
    return {"counts": counts, "total": sum(counts.values())}


@router.post("/v1.0/vims", status_code=201)
@router.post("/v1.0/vims.json", status_code=201, include_in_schema=False)
async def register_vim(
    body: VimCreateRequest, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    return {"vim": await run_in_threadpool(_service(request).register, context, body.vim)}


class VimImportRequest(BaseModel):
    """A fleet to register in one call: each item is what POST /v1.0/vims takes as `vim`."""

    model_config = ConfigDict(extra="forbid")
    vims: list[VimCreate] = Field(min_length=1, max_length=MAX_IMPORT)


@router.post("/v1.0/vims/import", status_code=201)
async def import_vims(
    body: VimImportRequest, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    """Register many VIMs, all or none (Tacker's own `{"vims": [...]}` POST stays refused)."""
    service = _service(request)
    return {"vims": await run_in_threadpool(service.register_many, context, body.vims)}


@router.get("/v1.0/vims/{vim_id}")
async def show_vim(
    vim_id: str,
    request: Request,
    context: RequestContext = Depends(request_context),
    fields: list[str] = Query(default=[]),
) -> dict[str, Any]:
    vim = await run_in_threadpool(_service(request).show, context, _vim_id(vim_id))
    return {"vim": project(vim, fields)}


@router.put("/v1.0/vims/{vim_id}")
async def update_vim(
    vim_id: str,
    body: VimUpdateRequest,
    request: Request,
    context: RequestContext = Depends(request_context),
) -> dict[str, Any]:
    service = _service(request)
    return {"vim": await run_in_threadpool(service.update, context, _vim_id(vim_id), body.vim)}


@router.delete("/v1.0/vims/{vim_id}", status_code=204, response_class=Response)
async def delete_vim(
    vim_id: str, request: Request, context: RequestContext = Depends(request_context)
) -> Response:
    await run_in_threadpool(_service(request).delete, context, _vim_id(vim_id))
    return Response(status_code=204)
