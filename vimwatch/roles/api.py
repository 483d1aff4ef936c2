"""The embedded default: api, conductor and engine in one process on one event loop.

Everything is built in the ASGI lifespan so that the engine and the request handlers
share the loop that owns the in-process transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vimwatch.api.app import create_app
from vimwatch.api.health import metrics_registry
from vimwatch.conductor.status_changes import ConductorEndpoint
from vimwatch.config import Settings
from vimwatch.messaging.inprocess import InProcessTransport
from vimwatch.monitor.engine import CONDUCTOR_TOPIC, Engine
from vimwatch.registry.database import Registry, make_engine, migrate
from vimwatch.secrets.keyring import Keyring
from vimwatch.services.vims import VimService
from vimwatch.workflows.backends.embedded import EmbeddedBackend

LOG = logging.getLogger(__name__)


def build_embedded_app(settings: Settings) -> FastAPI:
    """Prepare the state dir, keys and schema now, so that a bad setup fails before serving."""
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    keyring = Keyring.open(settings.key_dir)
    registry = Registry(make_engine(settings.effective_database_url))
    migrate(registry.engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        transport = InProcessTransport()
        await transport.start()
        await transport.serve(CONDUCTOR_TOPIC, ConductorEndpoint(registry))
        backend = EmbeddedBackend(registry, transport, asyncio.get_running_loop())
        service = VimService(registry, keyring, backend, settings)
        engine = Engine(registry, transport, reconcile_interval=settings.reconcile_interval)
        app.state.settings = settings
        app.state.registry = registry
        app.state.vims = service
        app.state.engine = engine
        app.state.metrics = metrics_registry(registry)
        await asyncio.to_thread(service.reconcile_monitoring)
        await engine.start()
        LOG.info("vimwatch embedded: %d monitors running", len(engine.scheduler))
        try:
            yield
        finally:
            await engine.stop()
            await transport.close()
            registry.engine.dispose()

    return create_app(lifespan)
