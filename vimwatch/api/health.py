"""Liveness for operators and load balancers."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from vimwatch.api.engine_view import EngineStatus, NoAnswer

router = APIRouter(tags=["health"])
_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="healthz")


@router.get(
    "/healthz",
    responses={
        503: {
            "description": "the database or the key file cannot be used, or the embedded "
            "engine process is not running (body: why)"
        }
    },
)
async def healthz(request: Request, response: Response) -> dict[str, Any]:
    """503 with the reasons when the database file or the key file went bad under the
    server: it may still answer reads, but a load balancer should send writes elsewhere.
    Also 503 while the embedded default's engine process is down (it is being restarted):
    nothing is probed meanwhile."""

    def database_problem() -> str | None:
        registry = request.app.state.registry
        problem = registry.problem()
        if problem is None:
            with registry.reading() as session:
                session.execute(text("SELECT 1"))
        return problem

    def engine_status() -> tuple[EngineStatus | None, str | None]:
        engine = request.app.state.engine
        if engine is None:
            return None, None
        try:
            return engine.status(), None
        except NoAnswer as exc:
            return None, str(exc)

    def checks() -> tuple[str | None, str | None, EngineStatus | None, str | None]:
        return database_problem(), request.app.state.keyring.problem(), *engine_status()

    # Threads of its own: behind a busy API's request threads /healthz took seconds.
    loop = asyncio.get_running_loop()
    database_error, keys_error, engine, engine_error = await loop.run_in_executor(_CHECKS, checks)
    isolated = bool(engine and engine.isolated)
    status = "isolated" if isolated else "ok"
    if database_error or keys_error or engine_error:
        status, response.status_code = "degraded", 503
    return {
        "status": status,
        "database": database_error is None,
        "database_error": database_error,
        "keys": keys_error is None,
        "keys_error": keys_error,
        "engine": engine_error is None,
        "engine_error": engine_error,
        "monitors": engine.monitors if engine else None,
        "isolated": isolated,
    }
