"""/v1.0/quotas/{project_id}: how many VIMs, webhooks and tokens a project may hold."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.api.draining import committed
from vimwatch.context import RequestContext
from vimwatch.services import quotas
from vimwatch.services.storable import Text

router = APIRouter(tags=["quotas"])
ProjectId = Annotated[Text, Path(min_length=1, max_length=64)]
# A limit fits the database's 32-bit integer; null puts the configured default back.
Limit = Annotated[int | None, Field(ge=0, le=2**31 - 1)]


class QuotaUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vims: Limit = None
    webhooks: Limit = None
    tokens: Limit = None


class QuotaUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quota: QuotaUpdate


@router.get("/v1.0/quotas/{project_id}")
async def show_quota(
    project_id: ProjectId, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    state = request.app.state
    show = partial(quotas.show, state.registry, state.settings, context, project_id)
    return {"quota": await run_in_threadpool(show)}


@router.put("/v1.0/quotas/{project_id}")
async def update_quota(
    project_id: ProjectId,
    body: QuotaUpdateRequest,
    request: Request,
    context: RequestContext = Depends(request_context),
) -> dict[str, Any]:
    state = request.app.state
    changes = body.quota.model_dump(exclude_unset=True)
    update = partial(quotas.update, state.registry, state.settings, context, project_id, changes)
    return {"quota": await committed(update)}
