"""Importing a fleet in one call: each VIM as registered one by one, all or none stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.service import Server


def vim(name: str, auth_url: str, password: str = "p", **changes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "openstack",
        "auth_url": auth_url,
        "auth_cred": {"username": "nfv_user", "password": password},
        "vim_project": {"name": "nfv"},
        **changes,
    }


@pytest.fixture
def unvalidated(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    try:
        yield server
    finally:
        server.stop()


def test_each_imported_vim_gets_its_event_sealed_secret_workflow_and_monitor(
    unvalidated: Server,
) -> None:
    fleet = [vim(f"edge-{n}", f"http://127.0.1.{n + 1}/identity") for n in range(3)]
    response = unvalidated.api("POST", "/v1.0/vims/import", json={"vims": fleet})
    assert response.status_code == 201, response.text
    imported = response.json()["vims"]
    assert [item["name"] for item in imported] == ["edge-0", "edge-1", "edge-2"]
    for item in imported:
        vim_id = item["id"]
        unvalidated.wait_for(lambda v=vim_id: unvalidated.vim_status(v) == "REACHABLE")
        shown = unvalidated.api("GET", f"/v1.0/vims/{vim_id}").json()["vim"]
        assert shown["auth_cred"]["password"] == "***"
        events = unvalidated.api("GET", "/v1.0/events", params={"resource_id": vim_id})
        kinds = [e["event_type"] for e in events.json()["events"]]
        assert kinds[:2] == ["CREATE", "MONITOR"]
        runs = unvalidated.api(
            "GET", "/v2/executions", params={"workflow_name": f"vim_id_{vim_id}"}
        ).json()["executions"]
        assert [run["state"] for run in runs] == ["RUNNING"]
    listed = unvalidated.api("GET", "/v1.0/vims", params={"fields": "name"}).json()["vims"]
    assert [v["name"] for v in listed] == ["edge-0", "edge-1", "edge-2"]


def test_one_bad_entry_stores_nothing_and_is_named(unvalidated: Server) -> None:
    fleet = [vim("good", "http://127.0.0.1/identity"), vim("bad", "keystone-without-scheme")]
    response = unvalidated.api("POST", "/v1.0/vims/import", json={"vims": fleet})
    assert response.status_code == 400
    assert "vims[1] (bad)" in response.json()["TackerError"]["message"]
    assert unvalidated.api("GET", "/v1.0/vims").json()["vims"] == []
    assert unvalidated.api("GET", "/v2/workflows").json()["workflows"] == []


def test_a_name_taken_already_or_twice_in_the_file_is_refused(unvalidated: Server) -> None:
    first = [vim("taken", "http://127.0.0.1/identity")]
    assert unvalidated.api("POST", "/v1.0/vims/import", json={"vims": first}).status_code == 201
    again = [vim("taken", "http://127.0.0.2/identity"), vim("new", "http://127.0.0.3/identity")]
    response = unvalidated.api("POST", "/v1.0/vims/import", json={"vims": again})
    assert response.status_code == 409
    assert "taken" in response.json()["TackerError"]["message"]
    twice = [vim("dup", "http://127.0.0.2/identity"), vim("dup", "http://127.0.0.3/identity")]
    response = unvalidated.api("POST", "/v1.0/vims/import", json={"vims": twice})
    assert response.status_code == 400
    assert len(unvalidated.api("GET", "/v1.0/vims").json()["vims"]) == 1


def test_each_vim_is_validated_against_its_keystone(server: Server, keystone) -> None:  # noqa: ANN001
    fleet = [
        vim("right", keystone.url, password=PASSWORD),
        vim("wrong", keystone.url, password="not-the-password"),
    ]
    response = server.api("POST", "/v1.0/vims/import", json={"vims": fleet})
    assert response.status_code == 400
    message = response.json()["TackerError"]["message"]
    assert "vims[1] (wrong)" in message and "not-the-password" not in message
    assert server.api("GET", "/v1.0/vims").json()["vims"] == []
    response = server.api("POST", "/v1.0/vims/import", json={"vims": fleet[:1]})
    assert response.status_code == 201
    vim_id = response.json()["vims"][0]["id"]
    shown = server.api("GET", f"/v1.0/vims/{vim_id}").json()["vim"]
    assert shown["placement_attr"]["regions"] == ["RegionOne", "RegionTwo"]


def test_an_import_may_carry_more_than_a_single_request_body(unvalidated: Server) -> None:
    fleet = [vim(f"big-{n}", f"http://127.0.3.{n % 250 + 1}/identity") for n in range(5000)]
    response = unvalidated.api("POST", "/v1.0/vims/import", json={"vims": fleet})
    assert response.status_code == 201, response.text[:300]
    assert len(response.json()["vims"]) == 5000
    too_big = {"vim": vim("one", "http://127.0.0.1/identity", description="x" * 2_000_000)}
    assert unvalidated.api("POST", "/v1.0/vims", json=too_big).status_code == 413
