"""The seed's exploration (vim-monitoring-seed.txt), typed as written, through the real
`tacker` and `mistral` commands against `vimwatch serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clients.commands import Client, fields, listed, table
from tests.service import Server

pytestmark = pytest.mark.clients


def test_seed_commands_show_the_vim_its_workflow_execution_task_and_status(
    tacker: Client, mistral: Client, vim_config: Path, noauth_server: Server
) -> None:
    created = tacker.run(
        "vim-register", "--config-file", str(vim_config), "testvim2", "-c", "id", "-c", "name",
        "-c", "status",
    )  # fmt: skip
    assert "Created a new vim:" in created.stdout
    vim = fields(created.stdout)
    assert (vim["name"], vim["status"]) == ("testvim2", "PENDING")
    name = f"vim_id_{vim['id']}"

    workflows = mistral.run("workflow-list", "--filter", f"name={name}", "-c", "ID", "-c", "Name")
    assert [w["Name"] for w in table(workflows.stdout)] == [name]

    executions = mistral.run(
        "execution-list", "--filter", f"workflow_name={name}", "-c", "ID", "-c", "Workflow name",
        "-c", "State",
    )  # fmt: skip
    assert [(e["Workflow name"], e["State"]) for e in table(executions.stdout)] == [
        (name, "RUNNING")
    ]

    tasks = mistral.run(
        "task-list", "--filter", f"workflow_name={name}", "-c", "ID", "-c", "Workflow name",
        "-c", "Name", "-c", "State",
    )  # fmt: skip
    assert [(t["Name"], t["Workflow name"], t["State"]) for t in table(tasks.stdout)] == [
        ("monitor_ping_vimPingVIMTASK", name, "RUNNING")
    ]

    def reachable() -> list[dict[str, str]] | None:
        found = tacker.run(
            "vim-list", "--name", "testvim2", "-c", "id", "-c", "name", "-c", "status"
        )
        rows = table(found.stdout)
        return rows if rows and rows[0]["status"] == "REACHABLE" else None

    assert noauth_server.wait_for(reachable, timeout=30) == [
        {"id": vim["id"], "name": "testvim2", "status": "REACHABLE"}
    ]

    # "The deletion of VIM will lead to removal of all of these mistral resources."
    tacker.run("vim-delete", "testvim2")
    assert listed(mistral.json("workflow-list", "--filter", f"name={name}")) == []
    assert listed(mistral.json("execution-list", "--filter", f"workflow_name={name}")) == []
    assert listed(mistral.json("task-list", "--filter", f"workflow_name={name}")) == []
