"""/v1.0/webhooks: a project's status-change callbacks (add, list, show, test, delete)."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.api.draining import committed
from vimwatch.context import RequestContext
from vimwatch.services.storable import Text
from vimwatch.webhooks.service import WebhookService

router = APIRouter(tags=["webhooks"])


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Text = Field(max_length=2048)
    secret: Text = Field(min_length=1, max_length=1024)
    project_id: Text | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)  # a malformed URL raises ValueError: a 400 like any other
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value


class WebhookCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook: WebhookCreate


def _service(request: Request) -> WebhookService:
    return request.app.state.webhooks


@router.post("/v1.0/webhooks", status_code=201)
async def add_webhook(
    body: WebhookCreateRequest, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    spec = body.webhook
    add = partial(_service(request).add, context, spec.url, spec.secret, spec.project_id)
    return {"webhook": await committed(add)}


@router.get("/v1.0/webhooks")
async def list_webhooks(
    request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    return {"webhooks": await run_in_threadpool(_service(request).list_webhooks, context)}


@router.get("/v1.0/webhooks/{webhook_id}")
async def show_webhook(
    webhook_id: str, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    return {"webhook": await run_in_threadpool(_service(request).show, context, webhook_id)}


@router.post("/v1.0/webhooks/{webhook_id}/test")
async def test_webhook(
    webhook_id: str, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    return {"result": await _service(request).test(context, webhook_id)}


@router.delete("/v1.0/webhooks/{webhook_id}", status_code=204, response_class=Response)
async def delete_webhook(
    webhook_id: str, request: Request, context: RequestContext = Depends(request_context)
) -> Response:
    await committed(partial(_service(request).delete, context, webhook_id))
    return Response(status_code=204)
