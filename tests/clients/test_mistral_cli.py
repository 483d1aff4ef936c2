"""`mistral` (python-mistralclient) against the embedded engine's Mistral-compatible API: it
shows the same workflows, executions and tasks as `vimwatch workflow|execution|task list`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.commands import Client, listed
from tests.service import Server

pytestmark = pytest.mark.clients

WORKFLOW_COLUMNS = ("ID", "Name", "Project ID", "Scope", "Created at", "Updated at")
EXECUTION_COLUMNS = ("ID", "Workflow ID", "Workflow name", "State", "Created at")
TASK_COLUMNS = ("ID", "Name", "Workflow name", "Workflow Execution ID", "State", "Started at")


def columns(names: tuple[str, ...]) -> list[str]:
    return [option for name in names for option in ("-c", name)]


@pytest.fixture
def monitored_vim(
    openstack: Client, vim_config: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A VIM registered through `openstack vim register`; its workflow is vim_id_<id>."""
    name = f"mistral-{request.node.name}"[:60]
    vim_id = openstack.json("vim", "register", "--config-file", str(vim_config), name)["id"]
    yield vim_id
    openstack.run("vim", "delete", vim_id, check=False)


def test_lists_match_vimwatchs_own_commands(
    mistral: Client, noauth_server: Server, monitored_vim: str
) -> None:
    name = f"vim_id_{monitored_vim}"
    for command, family, key, shown in (
        ("workflow-list", "workflow", "name", WORKFLOW_COLUMNS),
        ("execution-list", "execution", "workflow_name", EXECUTION_COLUMNS),
        ("task-list", "task", "workflow_name", TASK_COLUMNS),
    ):
        through_mistral = mistral.json(command, "--filter", f"{key}={name}", *columns(shown))
        through_vimwatch = noauth_server.cli_json(
            family, "list", "--filter", f"{key}={name}", *columns(shown)
        )
        assert len(through_mistral) == 1, command
        assert through_mistral == through_vimwatch, command


def test_get_commands_show_one_vims_records_and_how_they_link(
    mistral: Client, monitored_vim: str
) -> None:
    name = f"vim_id_{monitored_vim}"
    [execution] = mistral.json("execution-list", "--filter", f"workflow_name={name}")
    [task] = mistral.json("task-list", "--filter", f"workflow_name={name}")

    by_name = mistral.json("workflow-get", name)
    by_id = mistral.json("workflow-get", by_name["ID"])
    assert by_name == by_id
    assert by_name["Name"] == name
    definition = mistral.run("workflow-get-definition", name).stdout
    assert f"{name}:" in definition and "monitor_ping_vimPingVIMTASK:" in definition

    got = mistral.json("execution-get", execution["ID"])
    assert (got["Workflow ID"], got["Workflow name"], got["State"]) == (
        by_name["ID"],
        name,
        "RUNNING",
    )

    got = mistral.json("task-get", task["ID"])
    assert (got["Name"], got["Workflow Execution ID"], got["State"]) == (
        "monitor_ping_vimPingVIMTASK",
        execution["ID"],
        "RUNNING",
    )
    assert got["Finished at"] == "<none>"

    in_execution = mistral.json("task-list", execution["ID"], "-c", "ID")
    assert in_execution == [{"ID": task["ID"]}]


def test_mistral_filter_operators_select_running_executions(
    mistral: Client, monitored_vim: str
) -> None:
    name = f"vim_id_{monitored_vim}"
    running = mistral.json(
        "execution-list", "--filter", f"workflow_name=in:{name},other", "--filter",
        "state=eq:RUNNING", "-c", "Workflow name",
    )  # fmt: skip
    assert running == [{"Workflow name": name}]

    finished = mistral.json(
        "execution-list", "--filter", f"workflow_name={name}", "--filter", "state=SUCCESS"
    )
    assert listed(finished) == []


def test_unknown_records_are_reported_by_the_client(mistral: Client) -> None:
    assert "Workflow not found [workflow_identifier=vim_id_none" in mistral.fails(
        "workflow-get", "vim_id_none"
    )
    assert "Execution not found" in mistral.fails("execution-get", "no-such-execution")
    assert "Task not found" in mistral.fails("task-get", "no-such-task")


def test_deleting_the_vim_removes_what_mistral_showed(
    mistral: Client, openstack: Client, vim_config: Path
) -> None:
    created = openstack.json("vim", "register", "--config-file", str(vim_config), "mistral-gone")
    vim_id = created["id"]
    name = f"vim_id_{vim_id}"
    assert len(mistral.json("workflow-list", "--filter", f"name={name}")) == 1

    openstack.run("vim", "delete", vim_id)

    assert listed(mistral.json("workflow-list", "--filter", f"name={name}")) == []
    assert listed(mistral.json("execution-list", "--filter", f"workflow_name={name}")) == []
    assert listed(mistral.json("task-list", "--filter", f"workflow_name={name}")) == []
    assert "Workflow not found" in mistral.fails("workflow-get", name)


MONITOR_ACTION = "vimwatch.vim_ping_action"


def test_each_monitor_is_one_running_action_execution_of_its_task(
    mistral: Client, monitored_vim: str
) -> None:
    name = f"vim_id_{monitored_vim}"
    [execution] = mistral.json("execution-list", "--filter", f"workflow_name={name}")
    [task] = mistral.json("task-list", "--filter", f"workflow_name={name}")

    everywhere = mistral.json("action-execution-list")
    mine = [row for row in everywhere if row["Workflow name"] == name]
    assert len(mine) == 1
    [of_task] = mistral.json("action-execution-list", task["ID"])
    assert of_task == mine[0]
    assert (of_task["Name"], of_task["Task name"], of_task["Task ID"], of_task["State"]) == (
        MONITOR_ACTION,
        "monitor_ping_vimPingVIMTASK",
        task["ID"],
        "RUNNING",
    )

    got = mistral.json("action-execution-get", of_task["ID"])
    assert (got["Name"], got["State"], got["Accepted"]) == (MONITOR_ACTION, "RUNNING", False)
    action_input = json.loads(mistral.run("action-execution-get-input", of_task["ID"]).stdout)
    assert action_input["vim_id"] == monitored_vim
    assert action_input == json.loads(mistral.run("execution-get-input", execution["ID"]).stdout)
    assert json.loads(mistral.run("action-execution-get-output", of_task["ID"]).stdout) == {}
    assert json.loads(mistral.run("execution-get-output", execution["ID"]).stdout) == {}
    assert json.loads(mistral.run("task-get-result", task["ID"]).stdout) == {}
    assert json.loads(mistral.run("task-get-published", task["ID"]).stdout) == {}


def test_the_monitor_action_is_listed_and_shown(mistral: Client) -> None:
    actions = mistral.json("action-list")
    assert [row["Name"] for row in actions] == [MONITOR_ACTION]
    shown = mistral.json("action-get", MONITOR_ACTION)
    assert shown["Name"] == MONITOR_ACTION and "vim_id" in shown["Input"]
    assert "Action not found [name=std.echo" in mistral.fails("action-get", "std.echo")


def test_writes_are_refused_saying_what_to_do_instead(
    mistral: Client, monitored_vim: str, tmp_path: Path
) -> None:
    name = f"vim_id_{monitored_vim}"
    [execution] = mistral.json("execution-list", "--filter", f"workflow_name={name}")
    definition = tmp_path / "wf.yaml"
    definition.write_text("---\nversion: '2.0'\nmine:\n  tasks:\n    t:\n      action: std.noop\n")

    cancelled = mistral.fails("execution-update", "-s", "CANCELLED", execution["ID"])
    assert "not allowed" in cancelled and "openstack vim delete" in cancelled
    assert "openstack vim delete" in mistral.fails("execution-delete", execution["ID"])
    assert "openstack vim delete" in mistral.fails("workflow-delete", name)
    assert "openstack vim register" in mistral.fails("workflow-create", str(definition))
    assert "openstack vim register" in mistral.fails("execution-create", name)

    [still] = mistral.json("execution-list", "--filter", f"workflow_name={name}")
    assert (still["ID"], still["State"]) == (execution["ID"], "RUNNING")
    assert len(mistral.json("workflow-list", "--filter", f"name={name}")) == 1
    assert listed(mistral.json("workflow-list", "--filter", "name=mine")) == []
