"""The README walk-through, end to end, through the `vimwatch` command line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import PASSWORD
from tests.service import Server, write_openstack_config


def rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


def test_register_monitor_and_delete_a_vim(server: Server, keystone, tmp_path: Path) -> None:
    config = write_openstack_config(tmp_path / "vim.yaml", keystone.url, PASSWORD)

    created = server.cli(
        "vim",
        "register",
        "--config-file",
        str(config),
        "testvim2",
        "-c",
        "id",
        "-c",
        "name",
        "-c",
        "status",
        "-f",
        "json",
    )
    vim = json.loads(created.stdout)
    assert vim["name"] == "testvim2" and vim["status"] == "PENDING"
    vim_id = vim["id"]
    name = f"vim_id_{vim_id}"

    workflows = rows(
        server.cli(
            "workflow", "list", "--filter", f"name={name}", "-c", "ID", "-c", "Name", "-f", "csv"
        ).stdout
    )
    assert [w["Name"] for w in workflows] == [name]

    executions = rows(
        server.cli(
            "execution",
            "list",
            "--filter",
            f"workflow_name={name}",
            "-c",
            "ID",
            "-c",
            "Workflow name",
            "-c",
            "State",
            "-f",
            "csv",
        ).stdout
    )
    assert [(e["Workflow name"], e["State"]) for e in executions] == [(name, "RUNNING")]

    tasks = rows(
        server.cli(
            "task",
            "list",
            "--filter",
            f"workflow_name={name}",
            "-c",
            "ID",
            "-c",
            "Name",
            "-c",
            "Workflow name",
            "-c",
            "State",
            "-f",
            "csv",
        ).stdout
    )
    assert [(t["Name"], t["State"]) for t in tasks] == [("monitor_ping_vimPingVIMTASK", "RUNNING")]

    def listed_status() -> str | None:
        listed = rows(
            server.cli(
                "vim",
                "list",
                "--name",
                "testvim2",
                "-c",
                "id",
                "-c",
                "name",
                "-c",
                "status",
                "-f",
                "csv",
            ).stdout
        )
        return listed[0]["status"] if listed[0]["status"] == "REACHABLE" else None

    assert server.wait_for(listed_status) == "REACHABLE"

    events = rows(server.cli("event", "list", "--resource-id", vim_id, "-f", "csv").stdout)
    assert [(e["Event Type"], e["Resource State"]) for e in events] == [
        ("CREATE", "PENDING"),
        ("MONITOR", "REACHABLE"),
    ]

    deleted = server.cli("vim", "delete", "testvim2")
    assert "deleted successfully" in deleted.stdout
    for family, key in (
        ("workflow", "name"),
        ("execution", "workflow_name"),
        ("task", "workflow_name"),
    ):
        listed = server.cli(family, "list", "--filter", f"{key}={name}", "-f", "csv").stdout
        assert rows(listed) == [], family
    assert server.api("GET", "/healthz").json()["monitors"] == 0
    events = rows(server.cli("event", "list", "--resource-id", vim_id, "-f", "csv").stdout)
    assert [e["Event Type"] for e in events] == ["CREATE", "MONITOR", "DELETE"]


def test_cli_reports_an_unknown_vim_with_a_message_and_non_zero_exit(server: Server) -> None:
    result = server.cli("vim", "show", "no-such-vim", check=False)
    assert result.returncode != 0
    assert "Unable to find vim with name 'no-such-vim'" in result.stderr


def test_cli_without_a_server_says_where_it_looked(tmp_path: Path) -> None:
    server = Server(tmp_path)
    result = server.cli("vim", "list", check=False)
    assert result.returncode != 0
    assert f"cannot reach vimwatch at {server.url}" in result.stderr
