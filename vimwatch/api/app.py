"""The ASGI application: routes and error mapping, with no knowledge of how it is hosted."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from vimwatch.api import events, health, vims, workflows
from vimwatch.api.errors import install_error_handlers


def create_app(lifespan: Any) -> FastAPI:
    app = FastAPI(
        title="vimwatch",
        version="0.1.0",
        description="A registry of VIMs that watches whether each one is reachable.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for module in (vims, events, workflows, health):
        app.include_router(module.router)
    return app
