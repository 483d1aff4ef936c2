"""Importing a fleet in one call: each VIM as registered one by one, all or none stored."""

from __future__ import annotations

from typing import Any

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


def test_each_imported_vim_gets_its_event_sealed_secret_workflow_and_monitor(
    quiet_server: Server,
) -> None:
    fleet = [vim(f"edge-{n}", f"http://127.0.1.{n + 1}/identity") for n in range(3)]
    response = quiet_server.api("POST", "/v1.0/vims/import", json={"vims": fleet})
    assert response.status_code == 201, response.text
    imported = response.json()["vims"]
    assert [item["name"] for item in imported] == ["edge-0", "edge-1", "edge-2"]
    for item in imported:
        vim_id = item["id"]
        quiet_server.wait_for(lambda v=vim_id: quiet_server.vim_status(v) == "REACHABLE")
        shown = quiet_server.api("GET", f"/v1.0/vims/{vim_id}").json()["vim"]
        assert shown["auth_cred"]["password"] == "***"
        events = quiet_server.api("GET", "/v1.0/events", params={"resource_id": vim_id})
        kinds = [e["event_type"] for e in events.json()["events"]]
        assert kinds[:2] == ["CREATE", "MONITOR"]
        runs = quiet_server.api(
            "GET", "/v2/executions", params={"workflow_name": f"vim_id_{vim_id}"}
        ).json()["executions"]
        assert [run["state"] for run in runs] == ["RUNNING"]
    listed = quiet_server.api("GET", "/v1.0/vims", params={"fields": "name"}).json()["vims"]
    assert [v["name"] for v in listed] == ["edge-0", "edge-1", "edge-2"]


def test_one_bad_entry_stores_nothing_and_is_named(quiet_server: Server) -> None:
    fleet = [vim("good", "http://127.0.0.1/identity"), vim("bad", "keystone-without-scheme")]
    response = quiet_server.api("POST", "/v1.0/vims/import", json={"vims": fleet})
    assert response.status_code == 400
    assert "vims[1] (bad)" in response.json()["TackerError"]["message"]
    assert quiet_server.api("GET", "/v1.0/vims").json()["vims"] == []
    assert quiet_server.api("GET", "/v2/workflows").json()["workflows"] == []


def test_a_name_taken_already_or_twice_in_the_file_is_refused(quiet_server: Server) -> None:
    first = [vim("taken", "http://127.0.0.1/identity")]
    assert quiet_server.api("POST", "/v1.0/vims/import", json={"vims": first}).status_code == 201
    again = [vim("taken", "http://127.0.0.2/identity"), vim("new", "http://127.0.0.3/identity")]
    response = quiet_server.api("POST", "/v1.0/vims/import", json={"vims": again})
    assert response.status_code == 409
    assert "taken" in response.json()["TackerError"]["message"]
    twice = [vim("dup", "http://127.0.0.2/identity"), vim("dup", "http://127.0.0.3/identity")]
    response = quiet_server.api("POST", "/v1.0/vims/import", json={"vims": twice})
    assert response.status_code == 400
    assert len(quiet_server.api("GET", "/v1.0/vims").json()["vims"]) == 1


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


def test_an_import_may_carry_more_than_a_single_request_body(quiet_server: Server) -> None:
    fleet = [vim(f"big-{n}", f"http://127.0.3.{n % 250 + 1}/identity") for n in range(5000)]
    response = quiet_server.api("POST", "/v1.0/vims/import", json={"vims": fleet})
    assert response.status_code == 201, response.text[:300]
    assert len(response.json()["vims"]) == 5000
    too_big = {"vim": vim("one", "http://127.0.0.1/identity", description="x" * 2_000_000)}
    assert quiet_server.api("POST", "/v1.0/vims", json=too_big).status_code == 413


def test_skip_existing_imports_the_new_names_and_lists_the_registered_ones(
    quiet_server: Server,
) -> None:
    first = [vim("taken", "http://127.0.0.1/identity")]
    taken = quiet_server.api("POST", "/v1.0/vims/import", json={"vims": first}).json()["vims"][0]
    fleet = [vim("new", "http://127.0.0.2/identity"), vim("taken", "http://127.0.0.3/identity")]
    response = quiet_server.api(
        "POST", "/v1.0/vims/import", params={"skip_existing": "true"}, json={"vims": fleet}
    )
    assert response.status_code == 201, response.text
    assert [v["name"] for v in response.json()["vims"]] == ["new"]
    [skipped] = response.json()["skipped"]
    assert (skipped["id"], skipped["name"], skipped["tenant_id"]) == (
        taken["id"],
        "taken",
        taken["tenant_id"],
    )
    assert skipped["status"] in ("PENDING", "REACHABLE", "UNREACHABLE")
    again = quiet_server.api(
        "POST", "/v1.0/vims/import", params={"skip_existing": "true"}, json={"vims": fleet}
    )
    assert again.status_code == 200 and again.json()["vims"] == []
    assert sorted(v["name"] for v in again.json()["skipped"]) == ["new", "taken"]
    listed = quiet_server.api("GET", "/v1.0/vims", params={"fields": "name"}).json()["vims"]
    assert sorted(v["name"] for v in listed) == ["new", "taken"]
    # Skipping is by name only: a bad entry among the new ones still refuses the batch.
    bad = [*fleet, vim("broken", "keystone-without-scheme")]
    refused = quiet_server.api(
        "POST", "/v1.0/vims/import", params={"skip_existing": "true"}, json={"vims": bad}
    )
    assert refused.status_code == 400 and "vims[2] (broken)" in refused.text


def test_a_second_default_vim_in_an_import_is_refused_as_such(quiet_server: Server) -> None:
    first = [vim("main", "http://127.0.0.1/identity", is_default=True)]
    assert quiet_server.api("POST", "/v1.0/vims/import", json={"vims": first}).status_code == 201
    second = [vim("other", "http://127.0.0.2/identity", is_default=True)]
    response = quiet_server.api("POST", "/v1.0/vims/import", json={"vims": second})
    assert response.status_code == 409
    assert "default VIM already exists" in response.json()["TackerError"]["message"]
