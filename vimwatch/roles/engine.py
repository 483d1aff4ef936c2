"""The engine process: runs the monitors it holds leases on, beside any other engines."""

from __future__ import annotations

import logging

from vimwatch.config import Settings
from vimwatch.messaging.factory import open_transport
from vimwatch.monitor.engine import Engine
from vimwatch.roles.runtime import open_registry, until_signalled

LOG = logging.getLogger(__name__)


async def run_engine(settings: Settings) -> None:
    registry = open_registry(settings, upgrade=False)
    transport = open_transport(settings.transport_url, process_name=f"engine.{settings.engine_id}")
    await transport.start()
    engine = Engine(registry, transport, engine_id=settings.engine_id, lease_ttl=settings.lease_ttl)
    try:
        await engine.start()
        LOG.info("engine %s running %d monitors", settings.engine_id, len(engine.scheduler))
        await until_signalled()
    finally:
        await engine.stop()
        await transport.close()
        registry.engine.dispose()
