"""The `keystone` API check through a real Keystone: a VIM with `checks: [icmp, api]` is
REACHABLE only while Keystone accepts its credentials, whatever ICMP says.

The Keystone here is this module's own (not the session's shared one), because the tests
stop it and change its users' passwords.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.clients.keystone import Keystone
from tests.clients.venvs import ensure_environment
from tests.service import Server
from vimwatch.monitor.checks.keystone import KeystoneAccess
from vimwatch.monitor.checks.runner import ApiChecks, ApiSettings, CheckState, VimAccess

pytestmark = pytest.mark.clients

API_INTERVAL = 3.0
API_TIMEOUT = 2.0
PASSWORD = "nfv-check-pw"
# Short-lived tokens, so that renewals happen within a test.
TOKEN_LIFETIME = 12


@pytest.fixture(scope="module")
def own_keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keystone]:
    keystone = Keystone(
        ensure_environment("keystone"),
        tmp_path_factory.mktemp("keystone-own"),
        token_expiration=TOKEN_LIFETIME,
    )
    keystone.start()
    try:
        yield keystone
    finally:
        keystone.stop()


@pytest.fixture
def checked_server(tmp_path: Path) -> Iterator[Server]:
    """The embedded server (noauth: the caller is an admin, who may set a short API
    interval), validating VIMs against the real Keystone."""
    service = Server(tmp_path / "state").start()
    try:
        yield service
    finally:
        service.stop()


def register(server: Server, keystone: Keystone, name: str, password: str) -> str:
    body = {
        "vim": {
            "name": name,
            "type": "openstack",
            "auth_url": keystone.url,
            "auth_cred": {
                "username": name,
                "password": password,
                "user_domain_name": "Default",
                "cert_verify": "False",
            },
            "vim_project": {"name": "nfv", "project_domain_name": "Default"},
            "extra": {
                "monitor": {
                    "checks": ["icmp", "api"],
                    "api": {"interval": API_INTERVAL, "timeout": API_TIMEOUT},
                }
            },
        }
    }
    response = server.api("POST", "/v1.0/vims", json=body)
    assert response.status_code == 201, response.text
    return response.json()["vim"]["id"]


def vim(server: Server, vim_id: str) -> dict[str, Any]:
    return server.api("GET", f"/v1.0/vims/{vim_id}").json()["vim"]


def monitor_events(server: Server, vim_id: str) -> list[dict[str, Any]]:
    events = server.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()["events"]
    return [event for event in events if event["event_type"] == "MONITOR"]


def wait_for_status(server: Server, vim_id: str, status: str, after: int) -> dict[str, Any]:
    """The first MONITOR event to `status` after the first `after` events."""

    def found() -> dict[str, Any] | None:
        later = monitor_events(server, vim_id)[after:]
        return next((event for event in later if event["resource_state"] == status), None)

    return server.wait_for(found, timeout=60, interval=0.2)


def event_time(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def checks_show(server: Server, vim_id: str, **states: str) -> dict[str, Any]:
    """Wait until the view's checks are in `states` (the engine writes them every ~2 s)."""

    def matches() -> dict[str, Any] | None:
        checks = vim(server, vim_id)["checks"]
        ok = all(checks.get(name, {}).get("state") == state for name, state in states.items())
        return checks if ok else None

    return server.wait_for(matches, timeout=30, interval=0.2)


def test_a_changed_password_turns_the_vim_unreachable_until_updated(
    checked_server: Server, own_keystone: Keystone
) -> None:
    own_keystone.create_account("vim_pw", PASSWORD, "nfv", "member")
    vim_id = register(checked_server, own_keystone, "vim_pw", PASSWORD)
    up = wait_for_status(checked_server, vim_id, "REACHABLE", 0)
    assert up["event_details"].startswith("icmp: passing") and "api: passing" in up["event_details"]
    checks = checks_show(checked_server, vim_id, icmp="passing", api="passing")
    assert checks["api"]["last_success"] and checks["api"]["latency"] > 0

    changed_at = time.time()
    own_keystone.set_password("vim_pw", "a-new-password")
    down = wait_for_status(checked_server, vim_id, "UNREACHABLE", 1)
    assert down["event_details"].startswith("api: authentication failed"), down
    # Within two API intervals (the timeout once more for a check already in flight, and
    # the event's whole-second timestamp).
    assert event_time(down) - changed_at <= 2 * API_INTERVAL + API_TIMEOUT + 1
    assert "a-new-password" not in down["event_details"] and PASSWORD not in down["event_details"]
    checks = checks_show(checked_server, vim_id, icmp="passing", api="failing")
    assert checks["api"]["reason"].startswith("authentication failed")
    metrics = checked_server.api("GET", "/metrics").text
    assert f'vimwatch_vim_api_check_up{{vim_id="{vim_id}"}} 0.0' in metrics
    assert 'vimwatch_api_checks{state="failing"} 1.0' in metrics
    rows = checked_server.api("GET", "/dashboard/api/vims").json()["vims"]
    row = next(row for row in rows if row["id"] == vim_id)
    assert row["checks"]["icmp"]["state"] == "passing"
    assert row["checks"]["api"]["reason"].startswith("authentication failed")
    failed_logins = re.search(r"^vimwatch_api_check_failed_logins_total (\S+)$", metrics, re.M)
    assert failed_logins and float(failed_logins[1]) >= 1

    update = {"vim": {"auth_cred": {"username": "vim_pw", "password": "a-new-password"}}}
    response = checked_server.api("PUT", f"/v1.0/vims/{vim_id}", json=update)
    assert response.status_code == 200, response.text
    back = wait_for_status(checked_server, vim_id, "REACHABLE", 2)
    assert "api: passing" in back["event_details"]
    checks_show(checked_server, vim_id, icmp="passing", api="passing")


def test_keystone_stopped_is_unreachable_with_its_reason_and_back_when_restarted(
    checked_server: Server, own_keystone: Keystone
) -> None:
    own_keystone.create_account("vim_outage", PASSWORD, "nfv", "member")
    vim_id = register(checked_server, own_keystone, "vim_outage", PASSWORD)
    wait_for_status(checked_server, vim_id, "REACHABLE", 0)

    own_keystone.stop()
    try:
        down = wait_for_status(checked_server, vim_id, "UNREACHABLE", 1)
        # A check in flight as Keystone went away times out; the next finds it gone.
        assert re.match(r"api: (cannot reach|timed out)", down["event_details"]), down
        checks_show(checked_server, vim_id, icmp="passing", api="failing")
        checked_server.wait_for(
            lambda: "cannot reach" in vim(checked_server, vim_id)["checks"]["api"]["reason"],
            timeout=30,
        )
    finally:
        own_keystone.restart()
    back = wait_for_status(checked_server, vim_id, "REACHABLE", 2)
    assert "api: passing" in back["event_details"]


def test_a_vim_without_checks_keeps_its_view_and_events_as_before(
    checked_server: Server, own_keystone: Keystone
) -> None:
    own_keystone.create_account("vim_plain", PASSWORD, "nfv", "member")
    body = {
        "vim": {
            "name": "vim_plain",
            "type": "openstack",
            "auth_url": own_keystone.url,
            "auth_cred": {"username": "vim_plain", "password": PASSWORD},
            "vim_project": {"name": "nfv"},
        }
    }
    response = checked_server.api("POST", "/v1.0/vims", json=body)
    assert response.status_code == 201, response.text
    vim_id = response.json()["vim"]["id"]
    checked_server.wait_for(lambda: checked_server.vim_status(vim_id) == "REACHABLE", timeout=30)
    assert "checks" not in vim(checked_server, vim_id)
    assert [e["event_details"] for e in monitor_events(checked_server, vim_id)] == [""]


def logins_seen(keystone: Keystone, status: int) -> int:
    """Logins Keystone answered with `status`, as uWSGI logged them."""
    return sum(
        1
        for line in keystone.log().splitlines()
        if "POST /v3/auth/tokens" in line and f"(HTTP/1.1 {status})" in line
    )


def run_checks(
    keystone: Keystone, username: str, password: str, seconds: float, timeout: float = 1.0
) -> tuple[ApiChecks, CheckState]:
    """Run one VIM's keystone check every second for `seconds`, in this process; the
    checks and the VIM's check state at the end."""
    access = KeystoneAccess(
        auth_url=keystone.url,
        username=username,
        password=password,
        user_domain_name="Default",
        project_name="nfv",
        project_id=None,
        project_domain_name="Default",
        verify=True,
        regions=("RegionOne",),
    )

    async def load(vim_id: str) -> VimAccess:
        return VimAccess(access, "fingerprint")

    async def run() -> tuple[ApiChecks, CheckState]:
        checks = ApiChecks(load, lambda vim_id: None, concurrency=4)
        await checks.start()
        checks.add("vim", ApiSettings(interval=1.0, timeout=timeout))
        await asyncio.sleep(seconds)
        state = checks.state_of("vim")
        await checks.close()
        return checks, state

    return asyncio.run(run())


def test_the_token_is_reused_and_logins_are_only_its_renewals(own_keystone: Keystone) -> None:
    own_keystone.create_account("vim_reuse", PASSWORD, "nfv", "member")
    before = logins_seen(own_keystone, 201)
    seconds = 27.0
    # A timeout generous for a busy machine: Keystone here serves one request at a time.
    checks, state = run_checks(own_keystone, "vim_reuse", PASSWORD, seconds, timeout=4.0)
    assert checks.checks_run >= seconds / 2 and checks.checks_failed == 0
    assert state.state == "passing"
    # A token lives 12 s and is renewed once less than interval + timeout (5 s) is left:
    # the first login, then one renewal every ~7 s.
    renewals_due = 1 + int(seconds // (TOKEN_LIFETIME - 5))
    assert checks.logins == logins_seen(own_keystone, 201) - before
    assert renewals_due - 1 <= checks.logins <= renewals_due


def test_a_wrong_password_is_tried_at_most_once_per_interval_backing_off(
    own_keystone: Keystone,
) -> None:
    own_keystone.create_account("vim_wrong", PASSWORD, "nfv", "member")
    before = logins_seen(own_keystone, 401)
    checks, state = run_checks(own_keystone, "vim_wrong", "not-the-password", 12.0)
    refused = logins_seen(own_keystone, 401) - before
    assert checks.failed_logins == refused
    # Logins at about 0, 1, 3 and 7 s (the wait doubling from the 1 s interval), while
    # the check itself still ran, and failed, every second.
    assert 3 <= refused <= 4
    assert checks.checks_run >= 10 and checks.checks_failed == checks.checks_run
    assert state.state == "failing" and state.reason.startswith("authentication failed")
    assert "not-the-password" not in state.reason
