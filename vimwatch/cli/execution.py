"""`vimwatch execution ...`: runs of the per-VIM workflows."""

from __future__ import annotations

from vimwatch.cli.records import RecordLister, RecordShower

COLUMNS = (
    ("ID", "id"),
    ("Workflow ID", "workflow_id"),
    ("Workflow name", "workflow_name"),
    ("State", "state"),
    ("State info", "state_info"),
    ("Created at", "created_at"),
    ("Updated at", "updated_at"),
)


class ListExecutions(RecordLister):
    """List workflow executions (RUNNING while a VIM is monitored)."""

    path, collection, columns = "/v2/executions", "executions", COLUMNS


class ShowExecution(RecordShower):
    """Show one execution, with its input."""

    path, columns = "/v2/executions", (*COLUMNS, ("Input", "input"))
