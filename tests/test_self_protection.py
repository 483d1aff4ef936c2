"""The monitor protects the fleet's record from its own outages and from flapping VIMs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.lab import Lab
from tests.service import Server

pytestmark = pytest.mark.lab


def events_of(server: Server, vim_id: str, event_type: str) -> list[dict]:
    events = server.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()["events"]
    return [e for e in events if e["event_type"] == event_type]


def test_when_every_vim_fails_at_once_the_engine_says_isolated_and_flips_nothing(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    try:
        with Lab(hosts=1) as lab:
            host = lab.hosts[0]
            ids = [server.register(f"site-{n}", host.address, down_after=2) for n in range(12)]
            server.wait_for(lambda: all(server.vim_status(v) == "REACHABLE" for v in ids))
            host.down()
            server.wait_for(lambda: server.api("GET", "/healthz").json()["isolated"])
            time.sleep(2)
            assert all(server.vim_status(v) == "REACHABLE" for v in ids)
            assert server.api("GET", "/healthz").json()["status"] == "isolated"
            host.up()
            server.wait_for(lambda: not server.api("GET", "/healthz").json()["isolated"])
        assert all(server.monitor_states(v) == ["REACHABLE"] for v in ids)
    finally:
        server.stop()
    log = server.log()
    assert "its own network looks down" in log
    assert log.count("reporting UNREACHABLE failed") == 0


def test_a_flapping_vim_is_reported_once_as_flapping_instead_of_flooding(tmp_path) -> None:
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    try:
        with Lab(hosts=1) as lab:
            host = lab.hosts[0]
            vim_id = server.register("flappy", host.address, down_after=1, up_after=1)
            server.wait_for(lambda: server.vim_status(vim_id) == "REACHABLE")
            for _ in range(12):
                host.down()
                time.sleep(0.45)
                host.up()
                time.sleep(0.45)
            started = events_of(server, vim_id, "FLAPPING")
            assert [e["event_details"] for e in started] == ["flapping started"]
            flood = len(server.monitor_states(vim_id))
            assert flood < 12, flood
            server.wait_for(lambda: len(events_of(server, vim_id, "FLAPPING")) == 2, timeout=30)
            details = [e["event_details"] for e in events_of(server, vim_id, "FLAPPING")]
            assert details == ["flapping started", "flapping stopped"]
            # Read while the lab's host is still up: its namespace goes when the lab ends,
            # and the VIM rightly turns UNREACHABLE a probe later.
            assert server.vim_status(vim_id) == "REACHABLE"
    finally:
        server.stop()
