"""The api process; on the embedded default it also runs the engine and the conductor,
in a child process of its own (vimwatch.roles.engine_supervisor), started before this
module is imported (vimwatch.roles.engine_child).

Everything is built in the ASGI lifespan, on the loop that owns the transport the request
handlers cast through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vimwatch.api.app import create_app
from vimwatch.conductor.status_changes import ConductorEndpoint
from vimwatch.config import Settings
from vimwatch.contract import CONDUCTOR_TOPIC
from vimwatch.dashboard.feed import EventFeed
from vimwatch.messaging.base import Transport
from vimwatch.messaging.factory import open_transport
from vimwatch.metrics.collectors import metrics_registry
from vimwatch.metrics.merge import merged_with
from vimwatch.registry.fleet_summary import FleetSummary
from vimwatch.roles.availability import keep_summarising
from vimwatch.roles.engine_child import EngineChild
from vimwatch.roles.engine_supervisor import EngineCasts, EngineProcess
from vimwatch.roles.reconciler import keep_reconciling
from vimwatch.roles.retention import keep_pruning
from vimwatch.roles.runtime import open_registry
from vimwatch.roles.state_watch import watch_state
from vimwatch.secrets.sealed import open_keyring
from vimwatch.services.vims import VimService
from vimwatch.webhooks.service import WebhookService
from vimwatch.webhooks.worker import DeliveryWorker
from vimwatch.workflows.backends.factory import open_backend

LOG = logging.getLogger(__name__)


def build_api_app(
    settings: Settings, *, embedded: bool, engine_child: EngineChild | None = None
) -> FastAPI:
    """Check the state dir, keys and schema now, so that a bad setup fails before serving.

    `engine_child`: the embedded default's engine process where engines run its monitors,
    started already; it gets its settings once the schema is current."""
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    registry = open_registry(settings, upgrade=embedded)
    keyring = open_keyring(settings.key_dir, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The embedded default's engine runs in a process of its own (engine_supervisor):
        # the api's casts go there, and its conductor with it.
        engine = EngineProcess(settings, engine_child) if embedded and engine_child else None
        if engine:
            await engine.launch()
        if engine and not settings.transport_url:
            transport: Transport = EngineCasts(engine)
        else:
            transport = open_transport(settings.transport_url, process_name="api")
        await transport.start()
        backend = open_backend(settings, registry, transport, asyncio.get_running_loop())
        if embedded and not engine:
            await transport.serve(CONDUCTOR_TOPIC, ConductorEndpoint(registry))
        service = VimService(registry, keyring, backend, settings)
        feed = EventFeed(registry)
        deliveries = DeliveryWorker(registry, keyring)
        app.state.settings = settings
        app.state.registry = registry
        app.state.keyring = keyring
        app.state.vims = service
        app.state.engine = engine
        app.state.feed = feed
        app.state.webhooks = WebhookService(registry, keyring, settings)
        app.state.availability = FleetSummary(registry)
        app.state.metrics = metrics_registry(
            registry, settings.metrics_per_vim, summary=app.state.availability
        )
        if engine:
            app.state.metrics = merged_with(app.state.metrics, engine.metric_families)
        reconciler = None
        if backend.reconcile_interval is None:
            await asyncio.to_thread(service.reconcile_monitoring)
        else:
            reconciler = asyncio.create_task(
                keep_reconciling(service, backend, backend.reconcile_interval)
            )
        if engine:
            await engine.start()
            LOG.info("vimwatch embedded: the engine runs in process %d", engine.pid)
        await feed.start()
        app.state.drain.on_stop(feed.close_streams)
        deliveries.start()
        watcher = asyncio.create_task(watch_state(keyring, registry))
        pruner = asyncio.create_task(keep_pruning(registry, settings.event_retention))
        summariser = asyncio.create_task(
            keep_summarising(registry, app.state.availability, settings.availability_refresh)
        )
        try:
            yield
        finally:
            for task in (pruner, summariser):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Requests still finishing (their commits done) start monitors through the
            # engine and transport: those stay up until the requests are answered.
            await app.state.drain.idle(settings.shutdown_grace)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if reconciler:
                reconciler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconciler
            await deliveries.stop()
            await feed.stop()
            if engine:
                await engine.stop()
            await transport.close()
            registry.db_engine.dispose()

    return create_app(lifespan)
