"""The legacy `tacker` command (python-tackerclient 2.6.0) and the events commands of
python-tackerclient 1.13.0, the last release that has them, against `vimwatch serve`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clients.commands import Client, fields
from tests.service import Server

pytestmark = pytest.mark.clients


@pytest.fixture
def legacy_openstack(tacker_legacy_env: Path, noauth_server: Server, client_home: Path) -> Client:
    return Client(
        tacker_legacy_env / "bin" / "openstack",
        ("--os-auth-type", "none", "--os-endpoint", noauth_server.url),
        home=client_home,
    )


@pytest.fixture
def legacy_tacker(tacker_legacy_env: Path, noauth_server: Server, client_home: Path) -> Client:
    return Client(
        tacker_legacy_env / "bin" / "tacker",
        ("--os-auth-strategy", "noauth", "--os-url", noauth_server.url),
        home=client_home,
    )


def register(tacker: Client, config: Path, name: str) -> str:
    """vim-register prints "Created a new vim:" before the table, as the seed shows."""
    created = tacker.run("vim-register", "--config-file", str(config), name)
    assert created.stdout.startswith("Created a new vim:")
    return fields(created.stdout)["id"]


def reachable(server: Server, client: Client, name: str) -> str:
    """Wait, through the client, until the VIM is REACHABLE; returns its id."""

    def check() -> str | None:
        vim = client.json("vim-show", name, "-F", "id", "-F", "status")
        return vim["id"] if vim["status"] == "REACHABLE" else None

    return server.wait_for(check, timeout=30)


def test_legacy_commands_work_by_name_and_by_id(tacker: Client, vim_config: Path) -> None:
    vim_id = register(tacker, vim_config, "legacy-life")

    assert tacker.json("vim-show", vim_id, "-F", "id", "-F", "name") == {
        "id": vim_id,
        "name": "legacy-life",
    }
    names = tacker.json("vim-list", "-F", "name")
    assert {"name": "legacy-life"} in names
    assert all(set(row) == {"name"} for row in names)

    updated = tacker.run("vim-update", "legacy-life", "--description", "moved")
    assert "Updated vim: legacy-life" in updated.stdout
    assert tacker.value("vim-show", vim_id, "-c", "description") == "moved"

    deleted = tacker.run("vim-delete", vim_id)
    assert "All specified vim(s) deleted successfully" in deleted.stdout
    assert tacker.json("vim-list", "--name", "legacy-life") == []


def test_legacy_errors_print_the_servers_message_and_fail(
    tacker: Client, vim_config: Path, tmp_path: Path
) -> None:
    register(tacker, vim_config, "legacy-twice")
    duplicate = tacker.fails("vim-register", "--config-file", str(vim_config), "legacy-twice")
    assert "vim already exist with given ['tenant_id', 'name', 'deleted_at']" in duplicate

    assert "Unable to find vim with name 'elsewhere'" in tacker.fails("vim-show", "elsewhere")
    assert "Unable to find vim with name 'elsewhere'" in tacker.fails(
        "vim-update", "elsewhere", "--description", "x"
    )

    bad = tmp_path / "bad.yaml"
    bad.write_text(vim_config.read_text().replace('"password"', '"passphrase"'))
    message = tacker.fails("vim-register", "--config-file", str(bad), "legacy-bad")
    assert "auth_cred.password is required" in message
    assert tacker.json("vim-list", "--name", "legacy-bad") == []


def test_legacy_show_has_tackers_auth_cred_fields(tacker: Client, vim_config: Path) -> None:
    vim_id = register(tacker, vim_config, "legacy-cred")
    cred = tacker.json("vim-show", vim_id)["auth_cred"]
    cred = json.loads(cred) if isinstance(cred, str) else cred
    assert cred["project_name"] == "nfv" and cred["project_domain_name"] == "Default"
    assert cred["auth_url"].endswith("/identity/v3") and cred["key_type"] == "fernet_key"
    assert cred["password"] == "***"


def test_nfv_event_list_answers_the_filters_of_tackerclient_1(
    legacy_openstack: Client, tacker: Client, vim_config: Path, noauth_server: Server
) -> None:
    register(tacker, vim_config, "events-vim")
    vim_id = reachable(noauth_server, tacker, "events-vim")

    events = legacy_openstack.json("nfv", "event", "list", "--resource-id", vim_id)
    assert [(e["Event Type"], e["Resource State"]) for e in events] == [
        ("CREATE", "PENDING"),
        ("MONITOR", "REACHABLE"),
    ]
    assert {e["Resource Type"] for e in events} == {"vim"}

    monitor = legacy_openstack.json(
        "nfv", "event", "list", "--resource-id", vim_id, "--event-type", "MONITOR",
        "--resource-type", "vim",
    )  # fmt: skip
    assert [e["Event Type"] for e in monitor] == ["MONITOR"]

    # The 1.x client sends --resource-id's value as resource_state; the server still answers
    # with the resource's events instead of an empty list.
    by_state = legacy_openstack.json(
        "nfv", "event", "list", "--resource-id", vim_id, "--resource-state", "REACHABLE"
    )
    assert [e["ID"] for e in by_state] == [e["ID"] for e in events]

    shown = legacy_openstack.json("nfv", "event", "show", str(monitor[0]["ID"]))
    assert shown["resource_id"] == vim_id
    assert (shown["event_type"], shown["resource_state"]) == ("MONITOR", "REACHABLE")


def test_legacy_event_commands_filter_and_project_fields(
    legacy_tacker: Client, tacker: Client, vim_config: Path, noauth_server: Server
) -> None:
    register(tacker, vim_config, "legacy-events")
    vim_id = reachable(noauth_server, tacker, "legacy-events")
    tacker.run("vim-delete", vim_id)

    states = legacy_tacker.json(
        "vim-events-list", "--resource-id", vim_id, "--resource-state", "REACHABLE",
        "-F", "event_type", "-F", "resource_state",
    )  # fmt: skip
    assert [(e["event_type"], e["resource_state"]) for e in states] == [
        ("MONITOR", "REACHABLE"),
        ("DELETE", "REACHABLE"),
    ]

    deletes = legacy_tacker.json(
        "events-list", "--resource-type", "vim", "--resource-id", vim_id, "--event-type", "DELETE"
    )
    assert len(deletes) == 1

    shown = legacy_tacker.json("event-show", str(deletes[0]["id"]), "-F", "id", "-F", "event_type")
    assert shown == {"id": deletes[0]["id"], "event_type": "DELETE"}

    assert legacy_tacker.json("vnf-events-list") == []
    assert legacy_tacker.json("vnfd-events-list") == []
