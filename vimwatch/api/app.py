"""The ASGI application: routes and error mapping, with no knowledge of how it is hosted."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Depends, FastAPI

from vimwatch.api import (
    availability,
    dashboard,
    dashboard_availability,
    events,
    health,
    maintenance,
    metrics,
    mistral_actions,
    mistral_versions,
    mistral_writes,
    quotas,
    stream,
    vims,
    webhooks,
    workflows,
)
from vimwatch.api.draining import Drain, Draining
from vimwatch.api.errors import TackerErrorBody, documented_errors, install_error_handlers
from vimwatch.api.inputs import refuse_nul_in_url
from vimwatch.api.limits import BodyLimit
from vimwatch.api.rate_limit import RateLimit


def create_app(lifespan: Any) -> FastAPI:
    app = FastAPI(
        title="vimwatch",
        version="0.1.0",
        description="A registry of VIMs that watches whether each one is reachable.",
        lifespan=lifespan,
        responses=documented_errors(TackerErrorBody),
        dependencies=[Depends(refuse_nul_in_url)],
    )
    install_error_handlers(app)
    app.state.large_pages = asyncio.Semaphore(vims.LARGE_PAGES_AT_ONCE)
    app.add_middleware(BodyLimit)
    # Outside BodyLimit, so that a caller over its rate is refused before its body is read.
    app.add_middleware(RateLimit)
    # Outermost, so that a stopping server refuses a request before anything reads it.
    app.state.drain = Drain()
    app.add_middleware(Draining, drain=app.state.drain)
    # stream before events: /v1.0/events/stream must not be taken for an event id; the
    # Mistral root before the dashboard, which otherwise takes every request for /.
    for module in (
        vims,
        stream,
        events,
        workflows,
        mistral_actions,
        mistral_writes,
        webhooks,
        quotas,
        health,
        metrics,
        mistral_versions,
        dashboard,
    ):
        app.include_router(module.router)
    for module in (availability, maintenance, dashboard_availability):
        app.include_router(module.router)
    return app
