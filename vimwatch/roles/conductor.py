"""The conductor process: applies the status changes the engines report."""

from __future__ import annotations

import logging

from vimwatch.conductor.status_changes import ConductorEndpoint
from vimwatch.config import Settings
from vimwatch.contract import CONDUCTOR_TOPIC
from vimwatch.messaging.factory import open_transport
from vimwatch.metrics.collectors import metrics_registry
from vimwatch.metrics.exporter import serving_metrics
from vimwatch.roles.runtime import open_registry, until_signalled

LOG = logging.getLogger(__name__)


async def run_conductor(settings: Settings) -> None:
    registry = open_registry(settings, upgrade=False)
    transport = open_transport(settings.transport_url, process_name="conductor")
    collectors = metrics_registry(None, settings.metrics_per_vim)
    with serving_metrics(collectors, settings.host, settings.metrics_port):
        await transport.start()
        try:
            await transport.serve(CONDUCTOR_TOPIC, ConductorEndpoint(registry))
            LOG.info("conductor serving %s", CONDUCTOR_TOPIC)
            await until_signalled()
        finally:
            await transport.close()
            registry.db_engine.dispose()
