"""`vimwatch task ...`: the monitor tasks (monitor_ping_vimPingVIMTASK) of each execution."""

from __future__ import annotations

from vimwatch.cli.records import RecordLister, RecordShower

COLUMNS = (
    ("ID", "id"),
    ("Name", "name"),
    ("Workflow name", "workflow_name"),
    ("Workflow Execution ID", "workflow_execution_id"),
    ("State", "state"),
    ("State info", "state_info"),
    ("Started at", "started_at"),
    ("Finished at", "finished_at"),
)


class ListTasks(RecordLister):
    """List monitor tasks."""

    path, collection, columns = "/v2/tasks", "tasks", COLUMNS


class ShowTask(RecordShower):
    """Show one monitor task."""

    path, columns = "/v2/tasks", COLUMNS
