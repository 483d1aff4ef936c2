"""The embedded backend: workflow records in the registry, monitors in this process's engine.

Its methods are called from request worker threads; the casts go through the event loop
that owns the transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vimwatch.messaging.base import Transport, run_from_thread
from vimwatch.registry import workflows as records
from vimwatch.registry.database import Registry
from vimwatch.registry.models import Vim
from vimwatch.workflows.backends.base import ENGINE_ADDRESS, WorkflowBackend, kill_address
from vimwatch.workflows.definition import workflow_definition


class EmbeddedBackend(WorkflowBackend):
    def __init__(
        self, registry: Registry, transport: Transport, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._registry = registry
        self._transport = transport
        self._loop = loop

    def start_monitoring(self, vim_id: str, project_id: str, task_input: dict[str, Any]) -> None:
        with self._registry.transaction() as session:
            live = session.scalars(
                select(Vim.id).where(Vim.id == vim_id, Vim.deleted_at.is_(None)).with_for_update()
            ).first()
            if live is None or records.running_monitors(session, {vim_id}):
                return
            records.start_execution(
                session,
                vim_id=vim_id,
                project_id=project_id,
                definition=workflow_definition(vim_id, task_input),
                task_input=task_input,
            )
        run_from_thread(
            self._loop, self._transport.cast(ENGINE_ADDRESS, "monitor_vim", vim_id=vim_id)
        )

    def record_new(self, session: Session, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        rows = [
            (vim_id, project_id, workflow_definition(vim_id, task_input), task_input)
            for vim_id, project_id, task_input in items
        ]
        records.start_executions(session, rows)

    def started_new(self, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Nobody else knows these VIMs' ids yet, so no delete can race them, and one
        wake-up brings the engine to all of them."""
        if items:
            cast = self._transport.cast(ENGINE_ADDRESS, "monitor_vim", vim_id=items[-1][0])
            run_from_thread(self._loop, cast)

    def stop_monitoring(self, vim_id: str) -> None:
        run_from_thread(self._loop, self._transport.cast(kill_address(vim_id), "killAction"))
        with self._registry.transaction() as session:
            records.delete_records(session, vim_id)

    def monitored_vims(self) -> set[str]:
        with self._registry.reading() as session:
            return records.vims_running(session)

    def vims_with_workflow(self) -> set[str]:
        with self._registry.reading() as session:
            return records.vims_with_workflow(session)
