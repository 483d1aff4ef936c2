"""The embedded backend: workflow records in the registry, monitors in this process's engine.

Its methods are called from request worker threads; the casts go through the event loop
that owns the transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.orm import Session

from vimwatch.contract import ENGINE_ADDRESS
from vimwatch.messaging.base import Transport, run_from_thread
from vimwatch.registry import workflows as records
from vimwatch.registry.database import Registry
from vimwatch.workflows.backends.base import WorkflowBackend, cast_kill
from vimwatch.workflows.definition import workflow_definition


class EmbeddedBackend(WorkflowBackend):
    def __init__(
        self, registry: Registry, transport: Transport, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._registry = registry
        self._transport = transport
        self._loop = loop

    def start_monitoring(self, vim_id: str, project_id: str, task_input: dict[str, Any]) -> bool:
        """A running execution with other settings (started by an audit from the VIM as
        it was before an update committed) is replaced, and its monitor killed."""
        with self._registry.transaction() as session:
            outdated = records.drop_outdated_executions(session, vim_id, task_input)
            started = records.start_unless_running(
                session,
                vim_id=vim_id,
                project_id=project_id,
                definition=workflow_definition(vim_id, task_input),
                task_input=task_input,
            )
        for execution_id in outdated:
            run_from_thread(self._loop, cast_kill(self._transport, vim_id, execution_id))
        if started:
            cast = self._transport.cast(ENGINE_ADDRESS, "monitor_vim", vim_id=vim_id)
            run_from_thread(self._loop, cast)
        return started

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
        """Delete the records, then kill each execution's monitor by name: a kill that
        reaches an engine after the VIM's next execution started there ends nothing.

        The kills go out after the commit: casting in-process runs the engine's kill,
        whose own transaction would wait for this one. A kill that is lost leaves a
        monitor without an execution, which its engine's lease count finds and stops.
        """
        with self._registry.transaction() as session:
            execution_ids = records.execution_ids(session, vim_id)
            records.delete_records(session, vim_id)
        for execution_id in execution_ids:
            run_from_thread(self._loop, cast_kill(self._transport, vim_id, execution_id))

    def monitored_vims(self) -> set[str]:
        with self._registry.reading() as session:
            return records.vims_running(session)

    def vims_with_workflow(self) -> set[str]:
        with self._registry.reading() as session:
            return records.vims_with_workflow(session)
