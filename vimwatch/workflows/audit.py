"""The standing audit: every live VIM has a running execution, or is given one.

Engines run it every lease round. Comparing every VIM with its executions is an
anti-join over two million-row tables, too dear for every round; so a round compares two
counts instead: the live VIMs, summed from the per-project counters the database keeps,
and the running executions the round already counted for the fair share. Fewer running
executions than live VIMs means some live VIM has none, and only then are the VIMs
searched. A shortfall is acted on when two rounds in a row see one: an update or a
delete ends a VIM's execution a moment before it starts the next one (or deletes the
VIM), and such a moment is no reason to search a million rows.

A repair starts the execution the way a registration does, under the VIM's row lock, so
a request or another engine's audit starting it at the same time start one between them.
The engines' lease rounds then claim it like any other.
"""

from __future__ import annotations

import logging

from vimwatch.config import Settings
from vimwatch.errors import InvalidConfig
from vimwatch.instruments import MONITOR_REPAIRS
from vimwatch.registry import vims as vim_rows
from vimwatch.registry import workflows as records
from vimwatch.registry.database import Registry
from vimwatch.registry.models import Vim
from vimwatch.workflows.definition import vim_monitor_input, workflow_definition

LOG = logging.getLogger(__name__)
# VIMs repaired per round at most; a larger loss is repaired over the next rounds.
REPAIR_BATCH = 1000


class MonitorAudit:
    def __init__(self, registry: Registry, settings: Settings) -> None:
        self._registry = registry
        self._settings = settings
        self._short_before = False

    def check(self, running: int) -> list[str]:
        """One round's audit, given the running executions the round counted; returns
        the VIMs it started an execution for. Blocks: run it in a worker thread."""
        with self._registry.reading() as session:
            short = vim_rows.live_count(session) > running
        confirmed, self._short_before = short and self._short_before, short
        if not confirmed:
            return []
        with self._registry.reading() as session:
            vims = records.unmonitored_vims(session, REPAIR_BATCH)
        return [vim.id for vim in vims if self._repair(vim)]

    def _repair(self, vim: Vim) -> bool:
        try:
            task_input = vim_monitor_input(vim, self._settings)
        except InvalidConfig as exc:
            LOG.error("VIM %s has no running monitor and cannot be given one: %s", vim.id, exc)
            return False
        with self._registry.transaction() as session:
            started = records.start_unless_running(
                session,
                vim_id=vim.id,
                project_id=vim.tenant_id,
                definition=workflow_definition(vim.id, task_input),
                task_input=task_input,
            )
        if started:
            MONITOR_REPAIRS.inc()
            LOG.warning("VIM %s had no running monitor: started a new execution", vim.id)
        return started
