"""What the VIM service asks of a workflow backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy.orm import Session

ENGINE_ADDRESS = "vimwatch.engine"


def kill_address(vim_id: str) -> str:
    """The address a VIM's monitor listens on, as the old Tacker monitor did."""
    return f"KILL_ACTION.{vim_id}"


class WorkflowBackend(ABC):
    #: Whether vimwatch engines run the monitors (else another system's workers do).
    uses_engines: bool = True
    #: Seconds between the api process's reconciles; None: only at start-up, because
    #: nothing can fail behind the backend's back.
    reconcile_interval: float | None = None

    def missed_work(self) -> bool:
        """Whether an operation failed since the last call, so a reconcile is due now."""
        return False

    @abstractmethod
    def start_monitoring(self, vim_id: str, project_id: str, task_input: dict[str, Any]) -> None:
        """Create the workflow vim_id_<id> if needed and start a RUNNING execution of it."""

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

    @abstractmethod
    def monitored_vims(self) -> set[str]:
        """VIM ids with a RUNNING execution."""

    @abstractmethod
    def vims_with_workflow(self) -> set[str]:
        """VIM ids that have a workflow, running or not."""
