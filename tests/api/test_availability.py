"""Availability and maintenance windows over the API and the CLI: scoped to the caller's
project, with bad input refused with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.service import Server, vim_body


@pytest.fixture
def tenant_settings() -> dict[str, str]:
    """The fleet summary refreshed every half second, so that a VIM registered here is in
    the fleet view's snapshot within the test's waits."""
    return {"VIMWATCH_AVAILABILITY_REFRESH": "0.5"}


def _soon(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def _message(response) -> str:  # noqa: ANN001 - an httpx response
    return response.json()["TackerError"]["message"]


def test_a_projects_reports_and_windows_show_only_its_own_vims(tenants) -> None:
    server, callers, _ = tenants
    a, b, admin = callers["a"], callers["b"], callers["admin"]
    mine = a("POST", "/v1.0/vims", json=vim_body("site-a")).json()["vim"]["id"]
    theirs = b("POST", "/v1.0/vims", json=vim_body("site-b")).json()["vim"]["id"]
    server.wait_for(lambda: a("GET", f"/v1.0/vims/{mine}").json()["vim"]["status"] == "REACHABLE")

    report = a("GET", f"/v1.0/vims/{mine}/availability", params={"window": "1h"}).json()
    figures = report["availability"]
    assert figures["name"] == "site-a" and figures["outages"] == 0
    assert figures["up_seconds"] > 0 and figures["ratio"] == 1.0
    assert a("GET", f"/v1.0/vims/{theirs}/availability").status_code == 404

    # The fleet view of a standard window is the background job's latest snapshot.
    server.wait_for(lambda: len(admin("GET", "/v1.0/availability").json()["vims"]) >= 2)
    server.wait_for(lambda: a("GET", "/v1.0/availability", params={"window": "24h"}).json()["vims"])
    fleet = a("GET", "/v1.0/availability", params={"window": "24h"}).json()
    assert [vim["id"] for vim in fleet["vims"]] == [mine]
    assert fleet["availability"]["vims"] == 1
    everyone = admin("GET", "/v1.0/availability").json()
    assert {vim["id"] for vim in everyone["vims"]} >= {mine, theirs}
    only_b = admin("GET", "/v1.0/availability", params={"tenant_id": "project-b"}).json()
    assert [vim["id"] for vim in only_b["vims"]] == [theirs]

    window = {"vim_ids": [mine], "end": _soon(60), "reason": "upgrade"}
    made = a("POST", "/v1.0/maintenance_windows", json={"maintenance_window": window})
    assert made.status_code == 201, made.text
    assert made.json()["maintenance_window"]["in_force"] is True
    assert b("GET", "/v1.0/maintenance_windows").json() == {"maintenance_windows": []}
    window_id = made.json()["maintenance_window"]["id"]
    assert b("DELETE", f"/v1.0/maintenance_windows/{window_id}").status_code == 404
    stolen = {"vim_ids": [theirs], "end": _soon(60)}
    refused = a("POST", "/v1.0/maintenance_windows", json={"maintenance_window": stolen})
    assert refused.status_code == 404
    everything = {"all": True, "end": _soon(60)}
    refused = a("POST", "/v1.0/maintenance_windows", json={"maintenance_window": everything})
    assert refused.status_code == 403 and "admin" in _message(refused)
    other = {"project": "project-b", "end": _soon(60)}
    refused = a("POST", "/v1.0/maintenance_windows", json={"maintenance_window": other})
    assert refused.status_code == 403
    assert a("DELETE", f"/v1.0/maintenance_windows/{window_id}").status_code == 204
    assert a("GET", "/v1.0/maintenance_windows").json() == {"maintenance_windows": []}


BAD_PERIODS = [
    ({"window": "30x"}, "window must be a number and a unit"),
    ({"window": "0d"}, "longer than 0"),
    ({"window": "7d", "since": "2026-01-01"}, "either window or since"),
    ({"since": "yesterday"}, "ISO 8601"),
    ({"since": "2026-02-01", "until": "2026-01-01"}, "since must come before until"),
    ({"since": "0001-01-01"}, "between 1970 and 9999"),
]
BAD_WINDOWS = [
    ({"end": "2099-01-01T00:00:00"}, "exactly one of vim_ids, project, all"),
    ({"all": True, "project": "p", "end": "2099-01-01"}, "exactly one of"),
    ({"all": True, "start": "2020-01-01", "end": "2099-01-01"}, "must not be in the past"),
    ({"all": True, "start": "2099-01-02", "end": "2099-01-01"}, "end must come after start"),
    ({"all": True, "end": "tomorrow"}, "ISO 8601"),
    ({"all": True, "end": "2099-01-01", "weekly": True}, "shorter than a week"),
    ({"all": True, "end": "2099-01-01", "reason": "a\x00b"}, "NUL"),
    ({"all": True, "end": "2099-01-01", "colour": "red"}, "colour"),
]


def test_bad_periods_and_windows_are_refused_with_their_reason_and_nothing_stored(
    quiet_server: Server,
) -> None:
    vim_id = quiet_server.register("site")
    for params, reason in BAD_PERIODS:
        for path in (f"/v1.0/vims/{vim_id}/availability", "/v1.0/availability"):
            refused = quiet_server.api("GET", path, params=params)
            assert refused.status_code == 400, (params, refused.text)
            assert reason in _message(refused), params
    for window, reason in BAD_WINDOWS:
        body = {"maintenance_window": window}
        refused = quiet_server.api("POST", "/v1.0/maintenance_windows", json=body)
        assert refused.status_code == 400, (window, refused.text)
        assert reason in _message(refused), window
    listed = quiet_server.api("GET", "/v1.0/maintenance_windows").json()
    assert listed == {"maintenance_windows": []}


def test_the_cli_reports_availability_and_manages_windows(refreshing_server: Server) -> None:
    quiet_server = refreshing_server
    quiet_server.register("edge-1")
    shown = quiet_server.cli_json("vim", "availability", "edge-1", "--window", "1h")
    assert shown["name"] == "edge-1" and shown["outages"] == 0
    worst = quiet_server.wait_for(
        lambda: quiet_server.cli_json("availability", "--window", "7d", "--worst", "5")
    )
    assert [row["name"] for row in worst] == ["edge-1"]

    end = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    made = quiet_server.cli_json("maintenance", "add", "edge-1", "--end", end, "--reason", "ops")
    assert made["scope"] == "vims" and made["in_force"] is True
    listed = quiet_server.cli_json("maintenance", "list")
    assert [row["id"] for row in listed] == [made["id"]]
    quiet_server.cli("maintenance", "delete", made["id"])
    assert quiet_server.cli_json("maintenance", "list") == []

    bad = quiet_server.cli("vim", "availability", "edge-1", "--window", "soon", check=False)
    assert bad.returncode != 0 and "window must be a number and a unit" in bad.stderr
    bad = quiet_server.cli("maintenance", "add", "--end", end, check=False)
    assert bad.returncode != 0 and "exactly one of" in bad.stderr
