"""Liveness for operators and load balancers, and Prometheus metrics (see vimwatch.metrics)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    def database_ok() -> bool:
        with request.app.state.registry.reading() as session:
            session.execute(text("SELECT 1"))
        return True

    engine = request.app.state.engine
    isolated = bool(engine and engine.isolated)
    return {
        "status": "isolated" if isolated else "ok",
        "database": await run_in_threadpool(database_ok),
        "monitors": len(engine.scheduler) if engine else None,
        "isolated": isolated,
    }


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(generate_latest, request.app.state.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
