"""Tacker's legacy VIM API: /v1.0/vims, with and without the `.json` suffix the clients add."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.api.draining import committed
from vimwatch.api.listing import present_filters, project
from vimwatch.api.schemas import VimCreateRequest, VimUpdateRequest
from vimwatch.context import RequestContext
from vimwatch.services.vim_import import MAX_IMPORT, Outcome
from vimwatch.services.vim_input import VimCreate
from vimwatch.services.vims import VimService

router = APIRouter(tags=["vims"])
# Most VIMs one list response holds. Without `limit` (Tacker's clients send none) a list
# holds up to this many and links to the rest, rather than serialising a whole fleet.
PAGE_CAP = 10_000
# Large pages build and encode up to PAGE_CAP VIMs each (a quarter of a second of CPU at
# 10,000); any number of them at once starved the small requests of the GIL. A few at a
# time: the rest wait their turn without holding a thread.
LARGE_PAGE = 1000
LARGE_PAGES_AT_ONCE = 2


def _service(request: Request) -> VimService:
    return request.app.state.vims


def _vim_id(raw: str) -> str:
    return raw.removesuffix(".json")


def _one_vim(status: int) -> Callable[[dict[str, Any]], JSONResponse]:
    """The response of a write that answers one VIM. The writes render their response
    before they commit (see services.vims), so one that cannot be sent stores nothing."""
    return lambda vim: JSONResponse({"vim": vim}, status_code=status)


def _imported(outcome: Outcome, skip_existing: bool) -> JSONResponse:
    body: dict[str, Any] = {"vims": outcome.imported}
    if skip_existing:
        body["skipped"] = outcome.skipped
    return JSONResponse(body, status_code=201 if outcome.imported else 200)


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
) -> JSONResponse:
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

    def listed() -> JSONResponse:
        # Rendered in the worker thread: ten thousand VIMs encoded on the event loop held
        # every other request, /healthz included, for a quarter of a second each.
        vims = _service(request).list_vims(context, filters, limit=page, marker=marker)
        body: dict[str, Any] = {"vims": [project(vim, fields) for vim in vims]}
        if len(vims) == page:
            # Tacker's clients follow `<collection>_links` to the next page by themselves.
            after = request.url.include_query_params(limit=page, marker=vims[-1]["id"])
            body["vims_links"] = [{"rel": "next", "href": str(after)}]
        return JSONResponse(body)

    if page <= LARGE_PAGE:
        return await run_in_threadpool(listed)
    async with request.app.state.large_pages:
        return await run_in_threadpool(listed)


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
) -> Response:
    register = partial(_service(request).register, context, body.vim, _one_vim(201))
    return await committed(register)


class VimImportRequest(BaseModel):
    """A fleet to register in one call: each item is what POST /v1.0/vims takes as `vim`."""

    model_config = ConfigDict(extra="forbid")
    vims: list[VimCreate] = Field(min_length=1, max_length=MAX_IMPORT)


@router.post(
    "/v1.0/vims/import",
    status_code=201,
    responses={200: {"description": "with skip_existing: every VIM was already registered"}},
)
async def import_vims(
    body: VimImportRequest,
    request: Request,
    context: RequestContext = Depends(request_context),
    skip_existing: bool = Query(
        default=False,
        description="skip (and list under `skipped`) VIMs whose name is already registered "
        "in their project, instead of refusing the import: resumes a cut-short import",
    ),
) -> Response:
    """Register many VIMs, all or none (Tacker's own `{"vims": [...]}` POST stays refused).
    Answers 200 rather than 201 when every VIM was skipped."""
    register_many = partial(
        _service(request).register_many,
        context,
        body.vims,
        skip_existing=skip_existing,
        answer=partial(_imported, skip_existing=skip_existing),
    )
    return await committed(register_many)


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
) -> Response:
    update = partial(_service(request).update, context, _vim_id(vim_id), body.vim, _one_vim(200))
    return await committed(update)


@router.delete("/v1.0/vims/{vim_id}", status_code=204, response_class=Response)
async def delete_vim(
    vim_id: str, request: Request, context: RequestContext = Depends(request_context)
) -> Response:
    await committed(partial(_service(request).delete, context, _vim_id(vim_id)))
    return Response(status_code=204)
