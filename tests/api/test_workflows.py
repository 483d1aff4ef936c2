"""The Mistral-compatible read API shows each VIM's workflow, execution and task."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.service import Server

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


@pytest.fixture
def monitored(tmp_path):  # noqa: ANN201
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    ids = []
    for n in range(2):
        body = {
            "vim": {
                "name": f"vim{n}",
                "type": "openstack",
                "auth_url": f"http://127.0.0.{n + 1}/",
                "auth_cred": {"username": "u", "password": "p"},
                "vim_project": {"name": "nfv"},
            }
        }
        ids.append(server.api("POST", "/v1.0/vims", json=body).json()["vim"]["id"])
    try:
        yield server, ids
    finally:
        server.stop()


def test_every_key_the_mistral_client_formats_is_present(monitored) -> None:
    server, (vim_id, _) = monitored
    name = f"vim_id_{vim_id}"
    workflow = server.api("GET", "/v2/workflows", params={"name": name}).json()["workflows"]
    execution = server.api("GET", "/v2/executions", params={"workflow_name": name}).json()
    task = server.api("GET", "/v2/tasks", params={"workflow_name": name}).json()["tasks"]
    assert {"id", "name", "namespace", "project_id", "input", "scope", "created_at"} <= set(
        workflow[0]
    )
    assert {
        "id",
        "workflow_id",
        "workflow_name",
        "workflow_namespace",
        "description",
        "task_execution_id",
        "root_execution_id",
        "state",
        "state_info",
        "created_at",
        "updated_at",
    } <= set(execution["executions"][0])
    assert {
        "id",
        "name",
        "workflow_name",
        "workflow_namespace",
        "workflow_execution_id",
        "state",
        "state_info",
        "created_at",
        "started_at",
        "finished_at",
    } <= set(task[0])
    assert TIMESTAMP.match(task[0]["started_at"]) and TIMESTAMP.match(workflow[0]["created_at"])
    assert task[0]["workflow_execution_id"] == execution["executions"][0]["id"]
    definition = server.api("GET", f"/v2/workflows/{name}").json()["definition"]
    task = yaml.safe_load(definition)[name]["tasks"]["monitor_ping_vimPingVIMTASK"]
    assert task["action"] == "vimwatch.vim_ping_action"


def test_filters_take_mistral_operators_and_fields_project(monitored) -> None:
    server, ids = monitored
    names = ",".join(f"vim_id_{v}" for v in ids)
    listed = server.api(
        "GET", "/v2/executions", params={"workflow_name": f"in:{names}", "fields": "id,state"}
    )
    assert [set(e) for e in listed.json()["executions"]] == [{"id", "state"}] * 2
    none = server.api("GET", "/v2/executions", params={"state": "neq:RUNNING"})
    assert none.json() == {"executions": []}


def test_unknown_records_and_filters_get_mistral_style_errors(monitored) -> None:
    server, _ = monitored
    missing = server.api("GET", "/v2/workflows/no_such_wf")
    assert missing.status_code == 404
    assert "Workflow not found" in missing.json()["faultstring"]
    assert server.api("GET", "/v2/tasks/nope").status_code == 404
    bad = server.api("GET", "/v2/tasks", params={"colour": "red"})
    assert bad.status_code == 400 and "cannot filter on 'colour'" in bad.json()["faultstring"]


def test_version_discovery_at_v2_and_at_the_root_for_a_json_client(quiet_server) -> None:
    v2 = quiet_server.api("GET", "/v2/").json()
    assert v2["uri"] == f"{quiet_server.url}/v2"
    assert v2["version"]["id"] == "v2.0" and v2["version"]["status"] == "CURRENT"
    root = quiet_server.api("GET", "/", headers={"Accept": "application/json"})
    assert root.status_code == 200
    assert root.json() == {"versions": [v2["version"]]}


def test_the_root_still_takes_a_browser_to_the_dashboard(quiet_server) -> None:
    for accept in ("text/html,application/xhtml+xml,application/json;q=0.9", "*/*"):
        response = quiet_server.api("GET", "/", headers={"Accept": accept})
        assert response.status_code == 307, accept
        assert response.headers["location"] == "/dashboard"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v2/workflows"),
        ("PUT", "/v2/tasks/some-task"),
        ("POST", "/v2/action_executions"),
        ("PUT", "/v2/action_executions/some-action-execution"),
        ("DELETE", "/v2/action_executions/some-action-execution"),
        ("POST", "/v2/actions"),
        ("PUT", "/v2/actions"),
        ("DELETE", "/v2/actions/vimwatch.vim_ping_action"),
    ],
)
def test_other_mistral_writes_are_refused_in_mistrals_format(
    quiet_server, method: str, path: str
) -> None:
    response = quiet_server.api(method, path, content=b"{}")
    assert response.status_code == 403
    body = response.json()
    assert body["faultcode"] == "Client" and "is not allowed" in body["faultstring"]
