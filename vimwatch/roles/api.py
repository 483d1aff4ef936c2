"""The api process; on the embedded default it also hosts the conductor and the engine.

Everything is built in the ASGI lifespan so that the engine and the request handlers
share the loop that owns the transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vimwatch.api.app import create_app
from vimwatch.conductor.client import CONDUCTOR_TOPIC
from vimwatch.conductor.status_changes import ConductorEndpoint
from vimwatch.config import Settings
from vimwatch.dashboard.feed import EventFeed
from vimwatch.messaging.factory import open_transport
from vimwatch.metrics.collectors import metrics_registry
from vimwatch.metrics.loop_lag import LoopLag
from vimwatch.metrics.probes import ProbeStats
from vimwatch.monitor.engine import Engine
from vimwatch.roles.reconciler import keep_reconciling
from vimwatch.roles.runtime import open_registry
from vimwatch.secrets.keyring import Keyring
from vimwatch.services.vims import VimService
from vimwatch.webhooks.service import WebhookService
from vimwatch.webhooks.worker import DeliveryWorker
from vimwatch.workflows.backends.factory import open_backend

LOG = logging.getLogger(__name__)


def build_api_app(settings: Settings, *, embedded: bool) -> FastAPI:
    """Check the state dir, keys and schema now, so that a bad setup fails before serving."""
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    keyring = Keyring.open(settings.key_dir)
    registry = open_registry(settings, upgrade=embedded)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        transport = open_transport(settings.transport_url, process_name="api")
        await transport.start()
        backend = open_backend(settings, registry, transport, asyncio.get_running_loop())
        engine = None
        if embedded:
            await transport.serve(CONDUCTOR_TOPIC, ConductorEndpoint(registry))
            if backend.uses_engines:
                engine = Engine(
                    registry, transport, engine_id=settings.engine_id, lease_ttl=settings.lease_ttl
                )
        service = VimService(registry, keyring, backend, settings)
        probe_stats = loop_lag = None
        if engine:
            probe_stats, loop_lag = ProbeStats(), LoopLag()
            engine.scheduler.probe_observers.append(probe_stats.record)
        feed = EventFeed(registry)
        deliveries = DeliveryWorker(registry, keyring)
        app.state.settings = settings
        app.state.registry = registry
        app.state.vims = service
        app.state.engine = engine
        app.state.probe_stats = probe_stats
        app.state.feed = feed
        app.state.webhooks = WebhookService(registry, keyring)
        app.state.metrics = metrics_registry(
            registry, settings.metrics_per_vim, engine, probe_stats, loop_lag
        )
        reconciler = None
        if backend.reconcile_interval is None:
            await asyncio.to_thread(service.reconcile_monitoring)
        else:
            reconciler = asyncio.create_task(
                keep_reconciling(service, backend, backend.reconcile_interval)
            )
        if engine:
            await engine.start()
            loop_lag.start()
            LOG.info("vimwatch embedded: %d monitors running", len(engine.scheduler))
        await feed.start()
        deliveries.start()
        try:
            yield
        finally:
            if reconciler:
                reconciler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconciler
            await deliveries.stop()
            await feed.stop()
            if engine:
                await loop_lag.stop()
                await engine.stop()
            await transport.close()
            registry.engine.dispose()

    return create_app(lifespan)
