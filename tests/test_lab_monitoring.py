"""Real ICMP against VIM hosts in network namespaces: outages, recoveries and lossy links."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.lab import Lab
from tests.service import Server

pytestmark = pytest.mark.lab
INTERVAL = 0.2


def register(server: Server, name: str, address: str, **monitor: object) -> str:
    body = {
        "vim": {
            "name": name,
            "type": "openstack",
            "auth_url": f"http://{address}/identity",
            "auth_cred": {"username": "u", "password": "p"},
            "vim_project": {"name": "nfv"},
            "extra": {"monitor": monitor} if monitor else {},
        }
    }
    response = server.api("POST", "/v1.0/vims", json=body)
    assert response.status_code == 201, response.text
    return response.json()["vim"]["id"]


def monitor_states(server: Server, vim_id: str) -> list[str]:
    events = server.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()["events"]
    return [e["resource_state"] for e in events if e["event_type"] == "MONITOR"]


@pytest.fixture
def lab_server(tmp_path: Path):  # noqa: ANN201
    env = {
        "VIMWATCH_VALIDATE_VIMS": "false",
        "VIMWATCH_MONITOR_INTERVAL": str(INTERVAL),
        "VIMWATCH_MONITOR_TIMEOUT": str(INTERVAL),
    }
    with Lab(hosts=2) as lab:
        server = Server(tmp_path / "state", env=env).start()
        try:
            yield lab, server
        finally:
            server.stop()


def test_a_host_that_goes_down_is_unreachable_after_the_threshold_and_back(lab_server) -> None:
    lab, server = lab_server
    steady, flaky = lab.hosts
    steady_id = register(server, "steady", steady.address)
    flaky_id = register(server, "flaky", flaky.address, down_after=3)
    server.wait_for(lambda: server.vim_status(flaky_id) == "REACHABLE")

    flaky.down()
    went_down = time.monotonic()
    server.wait_for(lambda: server.vim_status(flaky_id) == "UNREACHABLE", interval=0.02)
    detected = time.monotonic() - went_down
    # Three failed probes are needed: never sooner than two intervals after the cut.
    assert 2 * INTERVAL <= detected <= 3 * INTERVAL + INTERVAL + 1.5, detected

    flaky.up()
    server.wait_for(lambda: server.vim_status(flaky_id) == "REACHABLE", timeout=10)
    assert monitor_states(server, flaky_id) == ["REACHABLE", "UNREACHABLE", "REACHABLE"]
    assert monitor_states(server, steady_id) == ["REACHABLE"]


def test_thirty_percent_loss_flaps_a_hair_trigger_but_not_the_thresholds(lab_server) -> None:
    lab, server = lab_server
    host = lab.hosts[0]
    hair_trigger = register(server, "hair-trigger", host.address, down_after=1)
    damped = register(server, "damped", host.address, down_after=8)
    server.wait_for(lambda: server.vim_status(damped) == "REACHABLE")

    host.lossy(30)
    time.sleep(60 * INTERVAL)
    host.clear()

    assert monitor_states(server, hair_trigger).count("UNREACHABLE") >= 2
    assert monitor_states(server, damped) == ["REACHABLE"]
