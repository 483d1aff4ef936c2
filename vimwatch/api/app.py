"""The ASGI application: routes and error mapping, with no knowledge of how it is hosted."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from vimwatch.api import dashboard, events, health, stream, vims, webhooks, workflows
from vimwatch.api.errors import TackerErrorBody, documented_errors, install_error_handlers
from vimwatch.api.limits import BodyLimit


def create_app(lifespan: Any) -> FastAPI:
    app = FastAPI(
        title="vimwatch",
        version="0.1.0",
        description="A registry of VIMs that watches whether each one is reachable.",
        lifespan=lifespan,
        responses=documented_errors(TackerErrorBody),
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    # stream before events: /v1.0/events/stream must not be taken for an event id.
    for module in (vims, stream, events, workflows, webhooks, health, dashboard):
        app.include_router(module.router)
    return app
