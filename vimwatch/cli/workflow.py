"""`vimwatch workflow ...`: the per-VIM workflows vim_id_<id>."""

from __future__ import annotations

from vimwatch.cli.records import RecordLister, RecordShower

COLUMNS = (
    ("ID", "id"),
    ("Name", "name"),
    ("Project ID", "project_id"),
    ("Scope", "scope"),
    ("Created at", "created_at"),
    ("Updated at", "updated_at"),
)


class ListWorkflows(RecordLister):
    """List workflows (one per monitored VIM)."""

    path, collection, columns = "/v2/workflows", "workflows", COLUMNS


class ShowWorkflow(RecordShower):
    """Show a workflow, with its definition."""

    path, columns = "/v2/workflows", (*COLUMNS, ("Definition", "definition"))
