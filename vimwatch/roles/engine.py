"""The engine process: runs the monitors it holds leases on, beside any other engines."""

from __future__ import annotations

import logging

from vimwatch.config import Settings
from vimwatch.messaging.factory import open_transport
from vimwatch.metrics.collectors import metrics_registry
from vimwatch.metrics.exporter import serving_metrics
from vimwatch.metrics.loop_lag import LoopLag
from vimwatch.metrics.probes import ProbeStats
from vimwatch.roles.runtime import open_engine, open_registry, until_signalled

LOG = logging.getLogger(__name__)


async def run_engine(settings: Settings) -> None:
    registry = open_registry(settings, upgrade=False)
    transport = open_transport(settings.transport_url, process_name=f"engine.{settings.engine_id}")
    engine = open_engine(settings, registry, transport)
    probe_stats, loop_lag = ProbeStats(), LoopLag()
    engine.scheduler.probe_observers.append(probe_stats.record)
    collectors = metrics_registry(None, settings.metrics_per_vim, engine, probe_stats, loop_lag)
    with serving_metrics(collectors, settings.host, settings.metrics_port):
        await transport.start()
        try:
            await engine.start()
            loop_lag.start()
            LOG.info("engine %s running %d monitors", settings.engine_id, len(engine.scheduler))
            await until_signalled()
        finally:
            await loop_lag.stop()
            await engine.stop()
            await transport.close()
            registry.db_engine.dispose()
