"""One tenant cannot hurt another: probe floors, per-project quotas and per-caller request
rates, exercised by a member of project A next to project B on one real server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.conftest import create_token
from tests.service import Server, vim_body

WEBHOOK = {"url": "http://127.0.0.1:9/hook", "secret": "s", "project_id": "project-a"}


@pytest.fixture
def tenant_settings() -> dict[str, str]:
    """Small quotas, and a rate a test can spend in a few seconds (the admin's unlimited)."""
    return {
        "VIMWATCH_QUOTA_VIMS": "3",
        "VIMWATCH_QUOTA_WEBHOOKS": "2",
        "VIMWATCH_QUOTA_TOKENS": "3",
        "VIMWATCH_RATE_LIMIT": "2",
        "VIMWATCH_RATE_BURST": "40",
    }


def message(response: httpx.Response) -> str:
    return response.json()["TackerError"]["message"]


def names(caller) -> list[str]:  # noqa: ANN001
    return sorted(vim["name"] for vim in caller("GET", "/v1.0/vims").json()["vims"])


def test_a_members_probe_interval_and_timeout_below_the_floor_are_refused(tenants) -> None:
    _, callers, _ = tenants
    a = callers["a"]
    flood = a("POST", "/v1.0/vims", json=vim_body("flood", interval=1e-9))
    assert flood.status_code == 400, flood.text
    assert "at least 1.0 s" in message(flood)
    assert "VIMWATCH_MONITOR_MIN_INTERVAL" in message(flood)
    hasty = a("POST", "/v1.0/vims", json=vim_body("hasty", interval=2, timeout=0.01))
    assert hasty.status_code == 400
    assert "timeout must be at least 0.1 s" in message(hasty)
    fleet = {"vims": [vim_body("imported", interval=0.5)["vim"]]}
    imported = a("POST", "/v1.0/vims/import", json=fleet)
    assert imported.status_code == 400
    assert "at least 1.0 s" in message(imported)
    assert names(a) == []

    kept = a("POST", "/v1.0/vims", json=vim_body("kept", interval=1))
    assert kept.status_code == 201, kept.text
    vim_id = kept.json()["vim"]["id"]
    faster = {"vim": {"extra": {"monitor": {"interval": 0.2}}}}
    changed = a("PUT", f"/v1.0/vims/{vim_id}", json=faster)
    assert changed.status_code == 400
    assert "at least 1.0 s" in message(changed)
    shown = a("GET", f"/v1.0/vims/{vim_id}").json()["vim"]
    assert shown["extra"] == {"monitor": {"interval": 1}}


def test_an_admin_may_probe_faster_but_not_below_the_absolute_floor(tenants) -> None:
    _, callers, _ = tenants
    admin = callers["admin"]
    tuned = admin("POST", "/v1.0/vims", json=vim_body("tuned", interval=0.5, timeout=0.05))
    assert tuned.status_code == 201, tuned.text
    flood = admin("POST", "/v1.0/vims", json=vim_body("flood", interval=0.001))
    assert flood.status_code == 400
    assert "at least 0.01 s" in message(flood)
    assert names(admin) == ["tuned"]


def test_a_project_over_its_vim_quota_is_refused_while_another_still_registers(tenants) -> None:
    _, callers, _ = tenants
    a, b, admin = callers["a"], callers["b"], callers["admin"]
    for n in range(3):
        assert a("POST", "/v1.0/vims", json=vim_body(f"a-{n}")).status_code == 201
    over = a("POST", "/v1.0/vims", json=vim_body("a-3"))
    assert over.status_code == 403, over.text
    assert over.json()["TackerError"]["type"] == "QuotaExceeded"
    assert "at most 3 VIMs" in message(over)
    assert "vimwatch quota set project-a --vims N" in message(over)
    batch = {"vims": [vim_body(f"batch-{n}")["vim"] for n in range(2)]}
    refused = a("POST", "/v1.0/vims/import", json=batch)
    assert refused.status_code == 403
    assert "adds 2" in message(refused)
    assert names(a) == ["a-0", "a-1", "a-2"]
    assert b("POST", "/v1.0/vims", json=vim_body("b-0")).status_code == 201

    raised = admin("PUT", "/v1.0/quotas/project-a", json={"quota": {"vims": 5}})
    assert raised.status_code == 200, raised.text
    assert a("POST", "/v1.0/vims/import", json=batch).status_code == 201
    assert a("POST", "/v1.0/vims", json=vim_body("a-3")).status_code == 403
    quota = a("GET", "/v1.0/quotas/project-a").json()["quota"]
    assert (quota["vims"], quota["usage"]["vims"]) == (5, 5)
    assert (quota["webhooks"], quota["tokens"]) == (2, 3)

    # Deleting makes room again.
    first = a("GET", "/v1.0/vims").json()["vims"][0]["id"]
    assert a("DELETE", f"/v1.0/vims/{first}").status_code == 204
    assert a("POST", "/v1.0/vims", json=vim_body("a-3")).status_code == 201


def test_a_member_reads_only_its_own_quota_and_sets_none(tenants) -> None:
    _, callers, _ = tenants
    a, admin = callers["a"], callers["admin"]
    assert a("GET", "/v1.0/quotas/project-a").status_code == 200
    other = a("GET", "/v1.0/quotas/project-b")
    assert other.status_code == 403
    assert "admin" in message(other)
    assert admin("GET", "/v1.0/quotas/project-b").json()["quota"]["vims"] == 3
    own = a("PUT", "/v1.0/quotas/project-a", json={"quota": {"vims": 1000}})
    assert own.status_code == 403
    assert a("GET", "/v1.0/quotas/project-a").json()["quota"]["vims"] == 3
    for bad in ({"vims": -1}, {"vims": "many"}, {"cpus": 4}, {}):
        refused = admin("PUT", "/v1.0/quotas/project-a", json={"quota": bad})
        assert refused.status_code == 400, (bad, refused.text)
    back = admin("PUT", "/v1.0/quotas/project-a", json={"quota": {"vims": None}})
    assert back.json()["quota"]["vims"] == 3
    # Project ids no project can have: too long, or holding a NUL.
    for project in ("p" * 65, "%00"):
        unnamed = admin("PUT", f"/v1.0/quotas/{project}", json={"quota": {"vims": 1}})
        assert unnamed.status_code == 400, (project, unnamed.text)


def test_webhooks_beyond_the_quota_are_refused_until_an_admin_raises_it(tenants) -> None:
    _, callers, _ = tenants
    a, admin = callers["a"], callers["admin"]
    for _ in range(2):
        added = admin("POST", "/v1.0/webhooks", json={"webhook": WEBHOOK})
        assert added.status_code == 201, added.text
    over = admin("POST", "/v1.0/webhooks", json={"webhook": WEBHOOK})
    assert over.status_code == 403
    assert "at most 2 webhooks" in message(over)
    assert "--webhooks N" in message(over)
    assert len(a("GET", "/v1.0/webhooks").json()["webhooks"]) == 2
    admin("PUT", "/v1.0/quotas/project-a", json={"quota": {"webhooks": 3}})
    assert admin("POST", "/v1.0/webhooks", json={"webhook": WEBHOOK}).status_code == 201


def test_tokens_beyond_the_quota_are_refused_until_an_admin_raises_it(tenants) -> None:
    server, _, tokens = tenants
    admin_token = tokens[1]
    for _ in range(2):  # project-a holds one token already
        create_token(server, "project-a")
    over = server.cli("token", "create", "--project", "project-a", check=False)
    assert over.returncode != 0
    assert "at most 3 tokens" in over.stderr
    assert "vimwatch quota set project-a --tokens N" in over.stderr

    as_admin = ("--os-token", admin_token)
    server.cli(*as_admin, "quota", "set", "project-a", "--tokens", "4")
    create_token(server, "project-a")
    shown = server.cli_json(*as_admin, "quota", "show", "project-a")
    assert (shown["tokens"], shown["tokens_used"]) == (4, 4)
    as_member = ("--os-token", tokens[0])
    refused = server.cli(*as_member, "quota", "set", "project-a", "--tokens", "99", check=False)
    assert refused.returncode != 0
    assert "admin" in refused.stderr


def test_a_flooding_token_gets_429_while_other_callers_are_answered(tenants) -> None:
    server, callers, _ = tenants
    a, b, admin = callers["a"], callers["b"], callers["admin"]
    with httpx.Client(base_url=server.url, headers=a.headers, timeout=30) as flood:
        answers = (flood.get("/v1.0/vims") for _ in range(2000))
        limited = next((r for r in answers if r.status_code == 429), None)
        assert limited is not None, "2,000 requests never met the rate limit"
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["TackerError"]["type"] == "TooManyRequests"
        assert flood.get("/v1.0/vims").status_code == 429
        assert flood.get("/healthz").status_code == 200
        assert b("GET", "/v1.0/vims").status_code == 200
        assert {admin("GET", "/v1.0/vims").status_code for _ in range(60)} == {200}
        # The bucket refills: A is answered again once it waits.
        server.wait_for(lambda: flood.get("/v1.0/vims").status_code == 200, timeout=30, interval=1)


def test_noauth_callers_all_admins_are_not_limited(tmp_path: Path) -> None:
    server = Server(
        tmp_path / "state",
        env={"VIMWATCH_RATE_LIMIT": "0.1", "VIMWATCH_RATE_BURST": "5"},
    ).start()
    try:
        statuses = [server.api("GET", "/v1.0/vims").status_code for _ in range(10)]
        assert statuses == [200] * 10
    finally:
        server.stop()
