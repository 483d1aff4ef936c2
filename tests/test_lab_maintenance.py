"""A maintenance window, end to end: a lab VIM that goes down inside one sends no webhook,
fires no alert in a real Prometheus with the shipped rules, and is not counted down; the
same outage of a VIM outside any window does all three."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.test_metrics import Prometheus
from tests.fakes.receiver import WebhookReceiver
from tests.lab import Lab
from tests.service import Server

pytestmark = [pytest.mark.lab, pytest.mark.prometheus]
INTERVAL = 0.2
SECRET = "maintenance-hook-secret"


def test_an_outage_inside_a_window_is_silent_and_not_counted(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus: not installed (apt-get install prometheus)")
    env = {
        "VIMWATCH_VALIDATE_VIMS": "false",
        "VIMWATCH_MONITOR_INTERVAL": str(INTERVAL),
        "VIMWATCH_MONITOR_TIMEOUT": str(INTERVAL),
    }
    with Lab(hosts=2) as lab, WebhookReceiver(SECRET) as hook:
        server = Server(tmp_path / "state", env=env).start()
        prometheus = Prometheus(tmp_path / "prometheus", f"127.0.0.1:{server.port}")
        try:
            _outage_with_and_without_a_window(lab, server, prometheus, hook)
        finally:
            prometheus.stop()
            server.stop()


def _outage_with_and_without_a_window(
    lab: Lab, server: Server, prometheus: Prometheus, hook: WebhookReceiver
) -> None:
    resting_host, watched_host = lab.hosts
    webhook = {"webhook": {"url": hook.url, "secret": SECRET}}
    assert server.api("POST", "/v1.0/webhooks", json=webhook).status_code == 201
    resting = server.register("resting", resting_host.address, down_after=2)
    watched = server.register("watched", watched_host.address, down_after=2)
    prometheus.wait_ready()

    def query(expr: str) -> list:
        return prometheus.api("query", query=expr)["result"]

    server.wait_for(lambda: len(query("vimwatch_vim_up == 1")) == 2, timeout=30)
    hook.wait_for(lambda: len(hook.status_changes()) == 2)  # both went REACHABLE

    end = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    window = {"maintenance_window": {"vim_ids": [resting], "end": end, "reason": "upgrade"}}
    assert server.api("POST", "/v1.0/maintenance_windows", json=window).status_code == 201
    server.wait_for(lambda: query('vimwatch_vim_in_maintenance{name="resting"} == 1'), timeout=30)

    resting_host.down()
    watched_host.down()
    server.wait_for(lambda: server.vim_status(resting) == "UNREACHABLE", timeout=15)
    server.wait_for(lambda: server.vim_status(watched) == "UNREACHABLE", timeout=15)
    [alert] = server.wait_for(lambda: prometheus.alerts("VimUnreachable", "firing"), timeout=30)
    assert alert["labels"]["name"] == "watched"
    # Prometheus has the resting VIM down, and the shipped rule still says nothing of it.
    server.wait_for(lambda: query('vimwatch_vim_up{name="resting"} == 0'), timeout=30)
    rule = prometheus.api("rules")["groups"][0]["rules"][0]
    assert query(rule["query"]) and all(
        row["metric"]["name"] == "watched" for row in query(rule["query"])
    )
    assert [a["labels"]["name"] for a in prometheus.api("alerts")["alerts"]] == ["watched"]

    resting_host.up()
    watched_host.up()
    server.wait_for(lambda: server.vim_status(resting) == "REACHABLE", timeout=15)
    server.wait_for(lambda: server.vim_status(watched) == "REACHABLE", timeout=15)
    hook.wait_for(lambda: len(hook.status_changes(watched)) == 3)
    assert [r.body["status"] for r in hook.status_changes(watched)][1:] == [
        "UNREACHABLE",
        "REACHABLE",
    ]
    assert len(hook.status_changes(resting)) == 1  # only its first REACHABLE, before the window

    events = server.api("GET", "/v1.0/events", params={"resource_id": resting}).json()["events"]
    in_window = [e for e in events if e["event_type"] == "MONITOR"][1:]
    assert [(e["resource_state"], e["event_details"]) for e in in_window] == [
        ("UNREACHABLE", "in maintenance"),
        ("REACHABLE", "in maintenance"),
    ]

    def report(vim_id: str) -> dict:
        path = f"/v1.0/vims/{vim_id}/availability"
        return server.api("GET", path, params={"window": "1h"}).json()["availability"]

    left_out, counted = report(resting), report(watched)
    assert left_out["outages"] == 0 and left_out["down_seconds"] == 0
    assert left_out["maintenance_seconds"] > 0 and left_out["ratio"] == 1.0
    assert counted["outages"] == 1 and counted["down_seconds"] > 0 and counted["ratio"] < 1.0
    assert counted["maintenance_seconds"] == 0
