"""What a non-admin of one project cannot do to another: learn of it, or aim probes
where they would hurt."""

from __future__ import annotations

import concurrent.futures
import json
import socket

from tests.api.conftest import METRICS_TOKEN, Caller
from tests.api.test_dashboard import StreamReader
from tests.fakes.receiver import WebhookReceiver
from tests.fakes.tcp_host import TcpHost
from tests.service import free_port, vim_body

SECRET = "hook-secret-of-a-tenant"


def test_metrics_need_an_admin_or_the_scrape_token_under_token_auth(tenants) -> None:
    server, callers, tokens = tenants
    a, admin = callers["a"], callers["admin"]
    created = a("POST", "/v1.0/vims", json=vim_body("private-name"))
    assert created.status_code == 201, created.text

    anonymous = Caller(server, None)("GET", "/metrics")
    assert anonymous.status_code == 401
    assert "metrics token" in anonymous.json()["TackerError"]["message"]
    member = a("GET", "/metrics")
    assert member.status_code == 403
    assert "admin" in member.json()["TackerError"]["message"]
    assert "private-name" not in anonymous.text + member.text

    assert "private-name" in admin("GET", "/metrics").text
    scraped = server.api("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    assert "private-name" in scraped.text
    wrong = server.api("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"})
    assert wrong.status_code == 401


def test_a_token_is_also_taken_as_a_bearer_credential(tenants) -> None:
    server, _, tokens = tenants
    bearer = server.api("GET", "/v1.0/vims", headers={"Authorization": f"Bearer {tokens[0]}"})
    assert bearer.status_code == 200


def test_group_and_unspecified_addresses_are_refused_as_targets(tenants) -> None:
    _, callers, _ = tenants
    a = callers["a"]
    for index, address in enumerate(
        ("224.0.0.1", "255.255.255.255", "0.0.0.0", "[ff02::1]", "[::]", "[::ffff:224.0.0.1]")
    ):
        refused = a("POST", "/v1.0/vims", json=vim_body(f"flood-{index}", address))
        assert refused.status_code == 400, (address, refused.text)
        assert "not one host" in refused.json()["TackerError"]["message"], address
    assert a("GET", "/v1.0/vims").json() == {"vims": []}


def test_an_ipv4_mapped_target_is_probed_over_ipv4(tenants) -> None:
    server, callers, _ = tenants
    a = callers["a"]
    created = a("POST", "/v1.0/vims", json=vim_body("mapped", "[::ffff:127.0.0.1]"))
    assert created.status_code == 201, created.text
    vim_id = created.json()["vim"]["id"]
    server.wait_for(lambda: a("GET", f"/v1.0/vims/{vim_id}").json()["vim"]["status"] == "REACHABLE")
    (execution,) = a("GET", "/v2/executions").json()["executions"]
    assert json.loads(execution["input"])["targetip"] == "127.0.0.1"


def test_the_event_stream_tells_a_project_nothing_of_another_projects_events(tenants) -> None:
    server, callers, tokens = tenants
    a_token, admin_token, b_token = tokens
    for index in range(3):
        assert callers["a"]("POST", "/v1.0/vims", json=vim_body(f"a-{index}")).status_code == 201

    def ready(token: str) -> dict:
        url = f"{server.url}/v1.0/events/stream"
        with StreamReader(url, {"X-Auth-Token": token}) as reader:
            message = reader.ready
        return json.loads("\n".join(message.data))

    server.wait_for(lambda: ready(a_token)["last_event_id"] > 0)
    a_last = ready(a_token)["last_event_id"]
    assert ready(b_token) == {"last_event_id": 0}
    assert ready(admin_token)["last_event_id"] >= a_last


def test_one_projects_refusing_targets_cannot_hold_another_projects_outage(tenants) -> None:
    server, callers, _ = tenants
    a, b = callers["a"], callers["b"]
    refusing = free_port()  # nothing listens: every connect is refused at once
    fleet = [
        vim_body(f"decoy-{n}", f"127.0.0.1:{refusing}", probe="tcp", down_after=1)["vim"]
        for n in range(400)
    ]
    assert a("POST", "/v1.0/vims/import", json={"vims": fleet}).status_code == 201
    host = TcpHost()
    host.up()
    try:
        created = b(
            "POST",
            "/v1.0/vims",
            json=vim_body("b-site", f"127.0.0.1:{host.port}", probe="tcp", down_after=2),
        )
        assert created.status_code == 201, created.text
        vim_id = created.json()["vim"]["id"]

        def b_status() -> str:
            return b("GET", f"/v1.0/vims/{vim_id}").json()["vim"]["status"]

        server.wait_for(lambda: b_status() == "REACHABLE", timeout=60)
        host.down()
        # With every VIM counted alike, 401 of 401 failing read as the engine's own outage.
        server.wait_for(lambda: b_status() == "UNREACHABLE", timeout=60)
    finally:
        host.down()
    assert not server.api("GET", "/healthz").json()["isolated"]


def test_a_black_hole_receiver_of_one_project_does_not_delay_anothers_delivery(tenants) -> None:
    server, callers, _ = tenants
    a, b, admin = callers["a"], callers["b"], callers["admin"]
    black_hole = socket.socket()  # listens, never accepts: every POST hangs to its timeout
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(4096)
    hole_url = f"http://127.0.0.1:{black_hole.getsockname()[1]}/hook"
    try:
        with (
            WebhookReceiver(SECRET) as receiver,
            concurrent.futures.ThreadPoolExecutor(8) as pool,
        ):
            # The outbound policy keeps a member's webhooks off loopback, so the admin adds
            # them for the projects; a black hole out on the network behaves the same.
            hook = {"webhook": {"url": hole_url, "secret": SECRET, "project_id": "project-a"}}
            raised = admin("PUT", "/v1.0/quotas/project-a", json={"quota": {"webhooks": 1000}})
            assert raised.status_code == 200, raised.text
            added = pool.map(lambda _: admin("POST", "/v1.0/webhooks", json=hook), range(1000))
            assert {response.status_code for response in added} == {201}
            assert a("POST", "/v1.0/vims", json=vim_body("a-site")).status_code == 201
            server.wait_for(lambda: "1000.0" in admin_metric(server, "pending"), timeout=60)

            hook = {"webhook": {"url": receiver.url, "secret": SECRET, "project_id": "project-b"}}
            assert admin("POST", "/v1.0/webhooks", json=hook).status_code == 201
            created = b("POST", "/v1.0/vims", json=vim_body("b-site"))
            vim_id = created.json()["vim"]["id"]
            # Before: 32 slots of 5 s in one queue, and B's delivery waited minutes.
            [delivery] = receiver.wait_for(lambda: receiver.status_changes(vim_id), timeout=15)
            assert delivery.body["project_id"] == "project-b"
    finally:
        black_hole.close()


def admin_metric(server, name: str) -> str:  # noqa: ANN001
    """The webhook backlog line of /metrics, read with the scrape token."""
    text = server.api("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    return next(
        (
            line
            for line in text.splitlines()
            if line.startswith(f"vimwatch_webhook_deliveries_{name}")
        ),
        "",
    )


def test_a_members_webhooks_cannot_reach_the_servers_own_network(tenants) -> None:
    server, callers, _ = tenants
    a, admin = callers["a"], callers["admin"]
    with WebhookReceiver(SECRET) as receiver:
        hook = {"webhook": {"url": receiver.url, "secret": SECRET}}
        refused = a("POST", "/v1.0/webhooks", json=hook)
        assert refused.status_code == 403, refused.text
        assert "outbound policy" in refused.json()["TackerError"]["message"]
        assert a("GET", "/v1.0/webhooks").json() == {"webhooks": []}
        for_a = {"webhook": {**hook["webhook"], "project_id": "project-a"}}
        webhook_id = admin("POST", "/v1.0/webhooks", json=for_a).json()["webhook"]["id"]
        # A member cannot use `test` to learn what answers on loopback, even on a webhook
        # an admin set up for it; the admin can.
        assert a("POST", f"/v1.0/webhooks/{webhook_id}/test").status_code == 403
        assert receiver.received == []
        assert admin("POST", f"/v1.0/webhooks/{webhook_id}/test").status_code == 200
