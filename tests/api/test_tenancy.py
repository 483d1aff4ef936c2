"""Token auth: each project sees only its own VIMs and their traces; admin sees all."""

from __future__ import annotations

from tests.api.conftest import Caller
from tests.service import vim_body


def test_a_project_cannot_see_change_or_learn_of_another_projects_vim(tenants) -> None:
    server, callers, _ = tenants
    a, b, admin = callers["a"], callers["b"], callers["admin"]
    created = a("POST", "/v1.0/vims", json=vim_body("shared-name"))
    assert created.status_code == 201, created.text
    vim = created.json()["vim"]
    assert vim["tenant_id"] == "project-a"
    server.wait_for(
        lambda: a("GET", f"/v1.0/vims/{vim['id']}").json()["vim"]["status"] == "REACHABLE"
    )
    missing = b("GET", "/v1.0/vims/00000000-0000-4000-8000-000000000000")

    for method, kwargs in (("GET", {}), ("PUT", {"json": {"vim": {"name": "x"}}}), ("DELETE", {})):
        answer = b(method, f"/v1.0/vims/{vim['id']}", **kwargs)
        assert answer.status_code == missing.status_code == 404
        assert answer.json()["TackerError"]["message"].replace(vim["id"], "<id>") == (
            missing.json()["TackerError"]["message"].replace(
                "00000000-0000-4000-8000-000000000000", "<id>"
            )
        )
    assert b("GET", "/v1.0/vims").json() == {"vims": []}
    assert b("GET", "/v1.0/events").json() == {"events": []}
    name = f"vim_id_{vim['id']}"
    for path, key in (
        ("/v2/workflows", "workflows"),
        ("/v2/executions", "executions"),
        ("/v2/tasks", "tasks"),
    ):
        assert b("GET", path).json() == {key: []}
        assert a("GET", path).json()[key], path
    execution = a("GET", "/v2/executions").json()["executions"][0]
    assert b("GET", f"/v2/executions/{execution['id']}").status_code == 404
    assert b("GET", f"/v2/workflows/{name}").status_code == 404
    # Project B may use the same name: it cannot even learn that A has it.
    assert b("POST", "/v1.0/vims", json=vim_body("shared-name")).status_code == 201
    assert (
        b(
            "POST", "/v1.0/vims", json={"vim": {**vim_body("x")["vim"], "tenant_id": "project-a"}}
        ).status_code
        == 400
    )

    assert {v["tenant_id"] for v in admin("GET", "/v1.0/vims").json()["vims"]} == {
        "project-a",
        "project-b",
    }
    assert a("GET", f"/v1.0/vims/{vim['id']}").status_code == 200


def test_missing_bad_and_revoked_tokens_are_401(tenants) -> None:
    server, callers, tokens = tenants
    assert Caller(server, None)("GET", "/v1.0/vims").status_code == 401
    assert Caller(server, "vw_not-a-token")("GET", "/v1.0/vims").status_code == 401
    token_id = server.cli("token", "list", "-f", "value", "-c", "id", "-c", "project").stdout
    project_a_id = next(
        line.split()[0] for line in token_id.splitlines() if line.endswith("project-a")
    )
    server.cli("token", "revoke", project_a_id)
    refused = callers["a"]("GET", "/v1.0/vims")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["TackerError"]["message"]
    assert callers["b"]("GET", "/v1.0/vims").status_code == 200


def test_tokens_are_stored_hashed_and_never_logged(tenants) -> None:
    server, callers, tokens = tenants
    callers["a"]("POST", "/v1.0/vims", json=vim_body("logged"))
    Caller(server, "vw_wrong-token-value")("GET", "/v1.0/vims")
    listed = server.cli("token", "list").stdout
    server.stop()
    log = server.log()
    database = (server.state_dir / "vimwatch.db").read_bytes()
    for token in [*tokens, "vw_wrong-token-value"]:
        assert token not in log and token not in listed
        assert token.encode() not in database
