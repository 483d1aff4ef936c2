"""The legacy VIM API: what it accepts, what it refuses, and what it never reveals."""

from __future__ import annotations

import concurrent.futures
import copy
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.service import Server, vim_body


def body(keystone, name: str = "vim1", **changes: Any) -> dict[str, Any]:
    vim = {
        "name": name,
        "type": "openstack",
        "auth_url": keystone.url,
        "auth_cred": {
            "username": "nfv_user",
            "password": PASSWORD,
            "user_domain_name": "Default",
            "cert_verify": "True",
        },
        "vim_project": {"name": "nfv", "project_domain_name": "Default"},
        "is_default": False,
    }
    vim.update(changes)
    return {"vim": vim}


def register(server: Server, payload: dict[str, Any]):  # noqa: ANN201
    return server.api("POST", "/v1.0/vims.json", json=payload)


def assert_nothing_stored(server: Server) -> None:
    assert server.api("GET", "/v1.0/vims").json() == {"vims": []}
    assert server.api("GET", "/v1.0/events").json() == {"events": []}
    assert server.api("GET", "/v2/workflows").json() == {"workflows": []}


def test_register_answers_201_with_a_pending_vim_and_its_regions(server, keystone) -> None:
    response = register(server, body(keystone))
    assert response.status_code == 201
    vim = response.json()["vim"]
    assert vim["status"] == "PENDING"
    assert vim["auth_url"] == keystone.url + "/v3"
    assert vim["placement_attr"] == {"regions": ["RegionOne", "RegionTwo"]}
    assert vim["auth_cred"]["password"] == "***"
    assert set(vim) == {
        "id",
        "type",
        "tenant_id",
        "name",
        "description",
        "placement_attr",
        "is_default",
        "created_at",
        "updated_at",
        "status",
        "extra",
        "auth_url",
        "vim_project",
        "auth_cred",
    }


def _broken_bodies(keystone) -> dict[str, tuple[Any, str]]:
    good = body(keystone)
    cases: dict[str, tuple[Any, str]] = {}

    def case(label: str, mutate, message: str) -> None:  # noqa: ANN001
        payload = copy.deepcopy(good)
        mutate(payload)
        cases[label] = (payload, message)

    case(
        "missing name",
        lambda p: p["vim"].pop("name"),
        "Failed to parse request. Required attribute 'name' not specified",
    )
    case(
        "unknown attribute",
        lambda p: p["vim"].update(colour="red"),
        "Unrecognized attribute(s) 'colour'",
    )
    case(
        "read-only attribute",
        lambda p: p["vim"].update(status="REACHABLE"),
        "Attribute 'status' not allowed in POST",
    )
    case(
        "no vim key", lambda p: p.update(thing=p.pop("vim")), "Unable to find 'vim' in request body"
    )
    case("wrong type for auth_cred", lambda p: p["vim"].update(auth_cred="x"), "auth_cred")
    case("empty vim_project", lambda p: p["vim"].update(vim_project={}), "vim_project")
    case("unknown vim type", lambda p: p["vim"].update(type="vmware"), "'openstack' or")
    case("no scheme in auth_url", lambda p: p["vim"].update(auth_url="keystone:5000"), "auth_url")
    case("missing password", lambda p: p["vim"]["auth_cred"].pop("password"), "password")
    case(
        "bad monitor setting",
        lambda p: p["vim"].update(extra={"monitor": {"interval": -1}}),
        "extra.monitor",
    )
    case(
        "unknown probe",
        lambda p: p["vim"].update(extra={"monitor": {"probe": "smoke"}}),
        "extra.monitor",
    )
    case("bulk", lambda p: p.update(vims=[p.pop("vim")]), "Bulk operation not supported")
    case(
        "sql in name",
        lambda p: p["vim"].update(name="x'; DROP TABLE vims; --", type="'; rm -rf /"),
        "vim.type",
    )
    case("name too long", lambda p: p["vim"].update(name="n" * 256), "name")
    return cases


def test_bad_bodies_get_a_clear_400_and_store_nothing(server, keystone) -> None:
    for label, (payload, message) in _broken_bodies(keystone).items():
        response = register(server, payload)
        assert response.status_code == 400, (label, response.text)
        error = response.json()["TackerError"]
        assert message in error["message"], (label, error)
    for raw in (b"", b"{}", b"{not json", b"[]", b'{"vim": null}'):
        response = server.api(
            "POST", "/v1.0/vims", content=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, raw
        if raw in (b"", b"{}"):
            assert response.json()["TackerError"]["message"] == "Resource body required"
    assert_nothing_stored(server)


def test_wrong_password_is_refused_with_the_reason_and_nothing_stored(server, keystone) -> None:
    payload = body(keystone)
    payload["vim"]["auth_cred"]["password"] = "wrong-password-xyz"
    response = register(server, payload)
    assert response.status_code == 400
    message = response.json()["TackerError"]["message"]
    assert "rejected" in message and "wrong-password-xyz" not in message
    assert_nothing_stored(server)


def test_names_are_unique_per_project_among_live_vims(server, keystone) -> None:
    first = register(server, body(keystone)).json()["vim"]
    duplicate = register(server, body(keystone))
    assert duplicate.status_code == 409
    assert duplicate.json()["TackerError"]["message"] == (
        "vim already exist with given ['tenant_id', 'name', 'deleted_at']"
    )
    other_project = register(server, body(keystone, tenant_id="other"))
    assert other_project.status_code == 201
    assert server.api("DELETE", f"/v1.0/vims/{first['id']}.json").status_code == 204
    assert register(server, body(keystone)).status_code == 201


def test_two_concurrent_default_vims_cannot_both_win(server, keystone) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(
                lambda n: register(server, body(keystone, f"default-{n}", is_default=True)),
                range(8),
            )
        )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7, [r.text for r in responses]
    defaults = server.api("GET", "/v1.0/vims", params={"is_default": "true"}).json()["vims"]
    assert len(defaults) == 1


def test_lookup_filters_and_fields_that_the_clients_rely_on(server, keystone) -> None:
    vim = register(server, body(keystone, "lookup-me")).json()["vim"]
    register(server, body(keystone, "someone-else"))
    by_id = server.api("GET", "/v1.0/vims.json", params={"id": vim["id"], "fields": "id"})
    assert by_id.json() == {"vims": [{"id": vim["id"]}]}
    by_name = server.api("GET", "/v1.0/vims.json", params={"name": "lookup-me", "fields": "id"})
    assert by_name.json() == {"vims": [{"id": vim["id"]}]}
    both = server.api("GET", "/v1.0/vims", params=[("name", "lookup-me"), ("name", "someone-else")])
    assert len(both.json()["vims"]) == 2
    shown = server.api("GET", f"/v1.0/vims/{vim['id']}.json").json()["vim"]
    assert shown["name"] == "lookup-me"


def test_unknown_vim_is_404_for_show_update_and_delete(server) -> None:
    missing = "/v1.0/vims/6f1a0a3e-0000-4000-8000-000000000000"
    assert server.api("GET", missing).status_code == 404
    assert server.api("PUT", missing, json={"vim": {"name": "x"}}).status_code == 404
    assert server.api("DELETE", missing).status_code == 404


def test_update_renames_keeps_the_password_and_records_an_event(server, keystone) -> None:
    vim = register(server, body(keystone)).json()["vim"]
    path = f"/v1.0/vims/{vim['id']}.json"
    masked_resend = {"vim": {"name": "renamed", "auth_cred": vim["auth_cred"]}}
    response = server.api("PUT", path, json=masked_resend)
    assert response.status_code == 200, response.text
    assert response.json()["vim"]["name"] == "renamed"
    readonly = server.api("PUT", path, json={"vim": {"auth_url": "http://127.0.0.2/"}})
    assert readonly.status_code == 400
    assert "read-only attribute auth_url" in readonly.json()["TackerError"]["message"]
    events = server.api("GET", "/v1.0/events", params={"resource_id": vim["id"]}).json()
    assert [e["event_type"] for e in events["events"]].count("UPDATE") == 1


def test_the_password_never_appears_in_responses_events_or_logs(server, keystone) -> None:
    seen = []
    seen.append(register(server, body(keystone)).text)
    vim_id = server.api("GET", "/v1.0/vims").json()["vims"][0]["id"]
    seen.append(server.api("GET", f"/v1.0/vims/{vim_id}").text)
    changed = {"vim": {"auth_cred": {"username": "nfv_user", "password": PASSWORD}}}
    seen.append(server.api("PUT", f"/v1.0/vims/{vim_id}", json=changed).text)
    wrong = body(keystone, "wrong")
    wrong["vim"]["auth_cred"]["password"] = PASSWORD + "-typo"
    seen.append(register(server, wrong).text)
    seen.append(server.api("GET", "/v1.0/events").text)
    seen.append(server.api("GET", "/v2/executions").text)
    seen.append(server.api("GET", "/v2/workflows").text)
    seen.append(server.cli("vim", "show", vim_id, "-f", "json").stdout)
    server.wait_for(lambda: server.vim_status(vim_id) == "REACHABLE")
    server.stop()
    seen.append(server.log())
    for text in seen:
        assert PASSWORD not in text
    sqlite_file = server.state_dir / "vimwatch.db"
    if sqlite_file.exists():
        assert PASSWORD.encode() not in sqlite_file.read_bytes()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_json_suffix_is_accepted_on_item_routes(server, keystone, method: str) -> None:
    vim = register(server, body(keystone)).json()["vim"]
    kwargs = {"json": {"vim": {"description": "d"}}} if method == "PUT" else {}
    response = server.api(method, f"/v1.0/vims/{vim['id']}.json", **kwargs)
    assert response.status_code in (200, 204)


def test_oversized_bodies_are_refused_with_413_and_store_nothing(server, keystone) -> None:
    huge = body(keystone)
    huge["vim"]["description"] = "x" * (2 * 1024 * 1024)
    declared = register(server, huge)
    assert declared.status_code == 413
    assert "larger than" in declared.json()["TackerError"]["message"]

    def chunks():  # noqa: ANN202 - a streamed upload with no Content-Length
        yield b'{"vim": {"name": "streamed", "description": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}}'

    streamed = server.api(
        "POST", "/v1.0/vims", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert_nothing_stored(server)


def test_no_secret_reaches_the_log_even_at_debug_level(tmp_path, keystone) -> None:
    server = Server(tmp_path / "state", env={"VIMWATCH_LOG_LEVEL": "DEBUG"}).start()
    try:
        vim = register(server, body(keystone)).json()["vim"]
        wrong = body(keystone, "wrong")
        wrong["vim"]["auth_cred"]["password"] = PASSWORD + "-typo"
        assert register(server, wrong).status_code == 400
        change = {"vim": {"auth_cred": {"username": "nfv_user", "password": PASSWORD}}}
        assert server.api("PUT", f"/v1.0/vims/{vim['id']}", json=change).status_code == 200
        server.wait_for(lambda: server.vim_status(vim["id"]) == "REACHABLE")
    finally:
        server.stop()
    log = server.log()
    assert "DEBUG" in log
    assert PASSWORD not in log
    assert not any(token in log for token in keystone.tokens)


def test_auth_cred_carries_the_fields_tacker_copied_into_it(quiet_server) -> None:
    """Tacker's openstack driver stored the project and the v3 auth_url inside auth_cred and
    showed them in every view; vimwatch derives them from vim_project and auth_url."""
    payload = {
        "vim": {
            "name": "tacker-cred",
            "type": "openstack",
            "auth_url": "http://127.0.0.1/identity",
            "auth_cred": {"username": "u", "password": "p", "cert_verify": "True"},
            "vim_project": {"name": "nfv", "project_domain_name": "Default"},
        }
    }
    created = register(quiet_server, payload).json()["vim"]
    expected = {
        "username": "u",
        "password": "***",
        "cert_verify": "True",
        "project_id": None,
        "project_name": "nfv",
        "project_domain_name": "Default",
        "auth_url": "http://127.0.0.1/identity/v3",
        "key_type": "fernet_key",
    }
    assert created["auth_cred"] == expected
    path = f"/v1.0/vims/{created['id']}"
    assert quiet_server.api("GET", path).json()["vim"]["auth_cred"] == expected
    listed = quiet_server.api("GET", "/v1.0/vims", params={"name": "tacker-cred"})
    assert listed.json()["vims"][0]["auth_cred"] == expected

    moved = {"vim": {"vim_project": {"id": "p-42", "name": "other", "project_domain_name": "D"}}}
    updated = quiet_server.api("PUT", path, json=moved).json()["vim"]["auth_cred"]
    assert (updated["project_id"], updated["project_name"], updated["project_domain_name"]) == (
        "p-42",
        "other",
        "D",
    )
    # Sending back what was shown stores none of the derived fields as credentials.
    resent = quiet_server.api("PUT", path, json={"vim": {"auth_cred": updated}})
    assert resent.status_code == 200, resent.text
    assert resent.json()["vim"]["auth_cred"] == updated


def test_errors_use_tackers_texts(quiet_server) -> None:
    first = register(quiet_server, vim_body("default-one")).json()["vim"]
    default = quiet_server.api(
        "PUT", f"/v1.0/vims/{first['id']}", json={"vim": {"is_default": True}}
    )
    assert default.status_code == 200, default.text
    second = register(quiet_server, vim_body("default-two")).json()["vim"]
    clash = quiet_server.api(
        "PUT", f"/v1.0/vims/{second['id']}", json={"vim": {"is_default": True}}
    )
    assert clash.status_code == 409
    assert clash.json()["TackerError"]["message"] == f"Default VIM already exists {first['id']}."

    missing = "6f1a0a3e-0000-4000-8000-000000000000"
    shown = quiet_server.api("GET", f"/v1.0/vims/{missing}")
    assert shown.status_code == 404
    assert shown.json()["TackerError"]["message"] == (
        f"Specified VIM id {missing} is invalid. Please verify and pass a valid VIM id"
    )
    event = quiet_server.api("GET", "/v1.0/events/999999")
    assert event.status_code == 404
    assert event.json()["TackerError"]["message"] == (
        "Specified Event id 999999 is invalid. Please verify and pass a valid Event id"
    )
