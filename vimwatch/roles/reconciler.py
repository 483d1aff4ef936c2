"""The api's background reconcile, for workflow backends that can miss an operation.

A registration made while Mistral is unreachable leaves its VIM PENDING without a workflow,
and a delete leaves a workflow behind. The backend says when a call failed; the api then
reconciles again within a tick, and in any case every `reconcile_interval`, which also
restarts executions that are missing and removes orphans. On the other ticks it audits:
any VIM whose execution ended (killed, or retries exhausted) gets a new one at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from vimwatch.errors import ServiceUnavailable
from vimwatch.services.vims import VimService
from vimwatch.workflows.backends.base import WorkflowBackend

LOG = logging.getLogger(__name__)
TICK = 2.0


async def keep_reconciling(service: VimService, backend: WorkflowBackend, interval: float) -> None:
    """Run until cancelled; the first reconcile is the start-up one."""
    last_success = -float("inf")
    unreachable = False
    while True:
        if backend.missed_work() or time.monotonic() - last_success >= interval:
            try:
                await asyncio.to_thread(service.reconcile_monitoring)
            except ServiceUnavailable as exc:
                if not unreachable:
                    LOG.warning("reconcile: %s; retrying every %ss", exc.message, TICK)
                unreachable = True
                last_success = -float("inf")
            except Exception:
                LOG.exception("reconcile failed; retrying in %ss", interval)
                last_success = time.monotonic()
            else:
                if unreachable:
                    LOG.info("reconcile: the workflow backend answers again")
                unreachable = False
                last_success = time.monotonic()
        else:
            await _audit(service)
        await asyncio.sleep(TICK)


async def _audit(service: VimService) -> None:
    """Between reconciles, each tick repairs VIMs whose execution ended (a monitor killed
    or given up), so a VIM is left unwatched for a tick rather than a reconcile interval."""
    try:
        await asyncio.to_thread(service.repair_ended_monitors)
    except ServiceUnavailable:
        pass  # Mistral is unreachable; the reconciles above say so and retry
    except Exception:
        LOG.exception("monitor audit failed; retrying in %ss", TICK)
