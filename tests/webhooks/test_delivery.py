"""Webhooks end to end: a real server, a real receiver on 127.0.0.1, real outages (tcp)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.receiver import WebhookReceiver
from tests.fakes.tcp_host import TcpHost, register_tcp_vim
from tests.service import Server

SECRET = "hook-secret-do-not-leak"
ENV = {"VIMWATCH_VALIDATE_VIMS": "false"}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as hook:
        yield hook


@pytest.fixture
def host() -> Iterator[TcpHost]:
    with TcpHost() as endpoint:
        yield endpoint


def add_webhook(server: Server, url: str, project: str | None = None) -> str:
    headers = {"X-Project-Id": project} if project else {}
    body = {"webhook": {"url": url, "secret": SECRET}}
    response = server.api("POST", "/v1.0/webhooks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["webhook"]["id"]


def test_a_status_change_is_delivered_signed_with_the_secret(
    quiet_server: Server, receiver: WebhookReceiver, host: TcpHost
) -> None:
    add_webhook(quiet_server, receiver.url)
    vim_id = register_tcp_vim(quiet_server, "signed", host)

    [delivery] = receiver.wait_for(lambda: receiver.status_changes(vim_id))
    assert delivery.signature_ok
    assert delivery.event == "vim.status_changed" and delivery.delivery
    body = delivery.body
    assert (body["vim_id"], body["vim_name"], body["status"]) == (vim_id, "signed", "REACHABLE")
    assert body["project_id"] == "default" and body["timestamp"].endswith("Z")
    events = quiet_server.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()
    monitor = [e for e in events["events"] if e["event_type"] == "MONITOR"]
    assert body["event_id"] == monitor[0]["id"]


def test_every_change_of_an_outage_is_delivered_in_order(
    quiet_server: Server, receiver: WebhookReceiver, host: TcpHost
) -> None:
    add_webhook(quiet_server, receiver.url)
    vim_id = register_tcp_vim(quiet_server, "flapping", host, down_after=2)
    receiver.wait_for(lambda: receiver.status_changes(vim_id))
    host.down()
    receiver.wait_for(lambda: len(receiver.status_changes(vim_id)) == 2)
    host.up()
    receiver.wait_for(lambda: len(receiver.status_changes(vim_id)) == 3)
    statuses = [r.body["status"] for r in receiver.status_changes(vim_id)]
    assert statuses == ["REACHABLE", "UNREACHABLE", "REACHABLE"]
    assert all(r.signature_ok for r in receiver.received)


def test_a_failing_receiver_gets_the_delivery_again_after_a_backoff(
    quiet_server: Server, receiver: WebhookReceiver, host: TcpHost
) -> None:
    receiver.answer(500, 503)
    add_webhook(quiet_server, receiver.url)
    vim_id = register_tcp_vim(quiet_server, "retried", host)

    receiver.wait_for(lambda: receiver.status_changes(vim_id))
    attempts = [r for r in receiver.received if r.body.get("vim_id") == vim_id]
    assert [a.answered for a in attempts] == [500, 503, 200]
    # Retries are the same delivery (same id and body), so receivers can de-duplicate.
    assert len({a.delivery for a in attempts}) == 1
    assert len({str(a.body) for a in attempts}) == 1
    [webhook] = quiet_server.api("GET", "/v1.0/webhooks").json()["webhooks"]
    assert webhook["pending"] == 0 and webhook["failed"] == 0


def test_the_backoff_doubles_between_attempts(
    quiet_server: Server, receiver: WebhookReceiver, host: TcpHost
) -> None:
    receiver.answer(500, 500, 500)
    add_webhook(quiet_server, receiver.url)
    stamps: list[float] = []
    original = receiver.handle

    def timed(request):  # noqa: ANN001, ANN202
        stamps.append(time.monotonic())
        return original(request)

    receiver.handle = timed
    vim_id = register_tcp_vim(quiet_server, "backoff", host)
    receiver.wait_for(lambda: receiver.status_changes(vim_id))
    gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:], strict=False)]
    # 1 s, 2 s, 4 s after the failed attempts (plus up to one 0.5 s poll each).
    for gap, wanted in zip(gaps, (1, 2, 4), strict=True):
        assert wanted <= gap < wanted + 1.5, gaps


def test_a_pending_delivery_survives_a_server_restart(
    tmp_path: Path, receiver: WebhookReceiver, host: TcpHost
) -> None:
    server = Server(tmp_path / "state", env=ENV).start()
    try:
        receiver.answer(*[500] * 50)
        add_webhook(server, receiver.url)
        vim_id = register_tcp_vim(server, "restarted", host)
        receiver.wait_for(lambda: receiver.received)
        server.stop()
        receiver._answers.clear()
        failed_before = len(receiver.received)

        server.start()
        [delivery] = receiver.wait_for(lambda: receiver.status_changes(vim_id))
        assert delivery.signature_ok and delivery.body["status"] == "REACHABLE"
        assert len(receiver.received) > failed_before
    finally:
        server.stop()


def test_a_hanging_receiver_does_not_hold_up_monitoring(
    quiet_server: Server, receiver: WebhookReceiver
) -> None:
    receiver.hang()
    add_webhook(quiet_server, receiver.url)
    with TcpHost() as first, TcpHost() as second:
        first_id = register_tcp_vim(quiet_server, "first", first, down_after=1)
        quiet_server.wait_for(lambda: quiet_server.vim_status(first_id) == "REACHABLE")
        receiver.wait_for(lambda: receiver._httpd is not None and receiver.requests, timeout=10)

        # The receiver now holds a delivery open; monitoring must go on at full speed.
        started = time.monotonic()
        second_id = register_tcp_vim(quiet_server, "second", second, down_after=1)
        quiet_server.wait_for(lambda: quiet_server.vim_status(second_id) == "REACHABLE")
        first.down()
        quiet_server.wait_for(lambda: quiet_server.vim_status(first_id) == "UNREACHABLE")
        assert time.monotonic() - started < 3.0
        lag = httpx.get(f"{quiet_server.url}/metrics").text
        assert "vimwatch_engine_loop_lag_seconds_bucket" in lag
    receiver.release()
    receiver.wait_for(lambda: len(receiver.status_changes()) >= 3, timeout=30)


def test_the_webhook_commands_add_list_test_and_delete_without_showing_the_secret(
    quiet_server: Server, receiver: WebhookReceiver
) -> None:
    added = quiet_server.cli_json("webhook", "add", receiver.url, "--secret", SECRET)
    assert added["secret"] == "***" and added["url"] == receiver.url
    listed = quiet_server.cli_json("webhook", "list")
    assert [w["id"] for w in listed] == [added["id"]]

    tested = quiet_server.cli_json("webhook", "test", added["id"])
    assert tested["delivered"] is True and tested["status_code"] == 200
    [test_call] = receiver.received
    assert test_call.signature_ok and test_call.event == "webhook.test"

    receiver.answer(502)
    refused = quiet_server.cli("webhook", "test", added["id"], check=False)
    assert refused.returncode != 0 and "HTTP 502" in refused.stderr

    for command in (("webhook", "list"), ("webhook", "show", added["id"])):
        assert SECRET not in quiet_server.cli(*command).stdout
    database = (quiet_server.state_dir / "vimwatch.db").read_bytes()
    assert SECRET.encode() not in database

    assert "deleted successfully" in quiet_server.cli("webhook", "delete", added["id"]).stdout
    assert quiet_server.cli_json("webhook", "list") == []


def test_a_project_sees_and_triggers_only_its_own_webhooks(
    quiet_server: Server, receiver: WebhookReceiver, host: TcpHost
) -> None:
    add_webhook(quiet_server, receiver.url, project="red")
    with WebhookReceiver(SECRET) as other:
        add_webhook(quiet_server, other.url, project="blue")
        red_vim = register_tcp_vim(quiet_server, "red-vim", host, project="red")
        receiver.wait_for(lambda: receiver.status_changes(red_vim))
        time.sleep(1.0)
        assert other.status_changes() == []


def test_a_webhook_url_must_be_http(quiet_server: Server) -> None:
    body = {"webhook": {"url": "file:///etc/passwd", "secret": SECRET}}
    response = quiet_server.api("POST", "/v1.0/webhooks", json=body)
    assert response.status_code == 400
    assert "http:// or https://" in response.json()["TackerError"]["message"]


def test_deliveries_queued_before_a_key_rotation_are_still_signed_after_it(
    tmp_path: Path, receiver: WebhookReceiver, host: TcpHost
) -> None:
    server = Server(tmp_path / "state", env=ENV).start()
    try:
        add_webhook(server, receiver.url)
        server.stop()
        server.cli("keys", "rotate", "--prune")
        server.start()
        vim_id = register_tcp_vim(server, "rotated", host)
        [delivery] = receiver.wait_for(lambda: receiver.status_changes(vim_id))
        assert delivery.signature_ok
        with sqlite3.connect(server.state_dir / "vimwatch.db") as db:
            [(sealed,)] = db.execute("SELECT sealed_secret FROM webhooks").fetchall()
        assert SECRET not in sealed
    finally:
        server.stop()
