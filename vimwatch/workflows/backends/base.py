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

    def start_monitoring_many(self, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        """`start_monitoring` for many new VIMs: (vim_id, project_id, task_input) each.
        Backends that can write them in one go override this."""
        for vim_id, project_id, task_input in items:
            self.start_monitoring(vim_id, project_id, task_input)

    def record_new(self, session: Session, items: list[tuple[str, str, dict[str, Any]]]) -> bool:
        """Write the workflow records of VIMs being created into `session`, the registry
        transaction that creates them: (vim_id, project_id, task_input) each. Then VIM and
        workflow commit together, in one transaction instead of two, and a failure stores
        neither. True when this backend did so, and `started_new` follows the commit;
        backends whose records live elsewhere return False and are given
        `start_monitoring_many` after the commit instead."""
        return False

    def started_new(self, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        """The transaction of `record_new` committed: let the monitors start."""
        raise NotImplementedError("only called after record_new returned True")

    @abstractmethod
    def stop_monitoring(self, vim_id: str) -> None:
        """Kill the monitor, then delete the executions (forced) and the workflow."""

    @abstractmethod
    def monitored_vims(self) -> set[str]:
        """VIM ids with a RUNNING execution."""

    @abstractmethod
    def vims_with_workflow(self) -> set[str]:
        """VIM ids that have a workflow, running or not."""
