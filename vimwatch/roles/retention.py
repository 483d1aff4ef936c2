"""The api's background pruning of events older than `event_retention` days."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.retention import prune_events

LOG = logging.getLogger(__name__)
EVERY = 3600.0


async def keep_pruning(registry: Registry, days: float) -> None:
    """Run until cancelled: prune once at start-up, then every hour."""
    while True:
        try:
            pruned = await asyncio.to_thread(
                prune_events, registry, utcnow() - timedelta(days=days)
            )
            if pruned:
                LOG.info("pruned %d events older than %s days", pruned, days)
        except Exception:
            LOG.exception("pruning old events failed; retrying in %ss", EVERY)
        await asyncio.sleep(EVERY)
