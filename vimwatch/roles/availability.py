"""The api's background availability work: closing finished days into roll-ups, and
keeping the fleet summary of the standard windows fresh for the fleet view and /metrics."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.fleet_summary import FleetSummary
from vimwatch.registry.rollups import day_of, roll_up

LOG = logging.getLogger(__name__)
EVERY = 60.0
#: The days every standard window reads: rolled up before each refresh of the summary.
RECENT = timedelta(days=32)
#: Older days rolled up after each refresh: history from before an upgrade, a little at a
#: time, so that the job never takes the api's time for long.
OLDER_DAYS = 2


async def keep_summarising(registry: Registry, summary: FleetSummary, every: float = EVERY) -> None:
    """Run until cancelled: roll up the recent closed days, refresh the summary, roll up a
    few older days, wait, again."""
    while True:
        try:
            now = utcnow()
            recent = await asyncio.to_thread(roll_up, registry, now, 100, day_of(now - RECENT))
            await asyncio.to_thread(summary.refresh, utcnow())
            older = await asyncio.to_thread(roll_up, registry, now, OLDER_DAYS)
            if recent or older:
                LOG.info("rolled up the availability of %d more days", recent + older)
        except Exception:
            LOG.exception("availability roll-up or summary failed; retrying in %ss", every)
        await asyncio.sleep(every)
