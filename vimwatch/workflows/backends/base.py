"""What the VIM service asks of a workflow backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy.orm import Session

from vimwatch.contract import kill_address
from vimwatch.messaging.base import Transport


async def cast_kill(transport: Transport, vim_id: str, execution_id: str | None) -> None:
    """Cast `killAction` for one execution of the VIM; its monitor ends only if it runs
    that execution, so a kill arriving after the next execution started ends nothing.
    Without an execution (Tacker's form of the cast) it ends whatever monitor runs."""
    arguments = {} if execution_id is None else {"execution_id": execution_id}
    await transport.cast(kill_address(vim_id), "killAction", **arguments)


class WorkflowBackend(ABC):
    #: Whether vimwatch engines run the monitors (else another system's workers do).
    engines_run_monitors: bool = True
    #: Seconds between the api process's reconciles; None: only at start-up, because
    #: nothing can fail behind the backend's back.
    reconcile_interval: float | None = None

    def missed_work(self) -> bool:
        """Whether an operation failed since the last call, so a reconcile is due now."""
        return False

    @abstractmethod
    def start_monitoring(self, vim_id: str, project_id: str, task_input: dict[str, Any]) -> bool:
        """Create the workflow vim_id_<id> if needed and start a RUNNING execution of it,
        unless the VIM is deleted or has one; returns whether it started one."""

    def record_new(self, session: Session, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Write the workflow records of VIMs being created into `session`, the registry
        transaction that creates them: (vim_id, project_id, task_input) each. Then VIM and
        workflow commit together, in one transaction instead of two, and a failure stores
        neither. Backends whose records live elsewhere write nothing here."""
        return None

    def started_new(self, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        """The transaction that created these VIMs committed: let their monitors start.
        Backends that recorded nothing in it start each one from scratch."""
        for vim_id, project_id, task_input in items:
            self.start_monitoring(vim_id, project_id, task_input)

    @abstractmethod
    def stop_monitoring(self, vim_id: str) -> None:
        """Kill the monitor, then delete the executions (forced) and the workflow."""

    def ended_vims(self) -> set[str]:
        """VIMs with an execution that ended (a monitor lost behind our back), found
        cheaply; backends whose engines audit the executions themselves return none."""
        return set()

    @abstractmethod
    def monitored_vims(self) -> set[str]:
        """VIM ids with a RUNNING execution."""

    @abstractmethod
    def vims_with_workflow(self) -> set[str]:
        """VIM ids that have a workflow, running or not."""
