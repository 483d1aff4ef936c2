"""The embedded default probes from a process of its own, so API load cannot starve it."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.service import Server

ENGINE_MODULE = "vimwatch.roles.engine_process"
VIMS = 40
INTERVAL = 0.2  # tests.service's default monitor interval


def engine_processes(server: Server) -> list[int]:
    """The server's children that run the engine."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children if ENGINE_MODULE in _cmdline(int(child))]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def gone(pid: int) -> bool:
    """Exited (a zombie nobody reaped yet counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except FileNotFoundError:
        return True


def probes_sent(server: Server) -> float:
    text = server.api("GET", "/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vimwatch_probes_sent_total":
                return sample.value
    raise AssertionError("no vimwatch_probes_sent on /metrics")


@pytest.fixture
def fleet_server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    try:
        fleet = [
            {
                "name": f"load-{n}",
                "type": "openstack",
                "auth_url": f"http://127.0.3.{n + 1}/identity",
                "auth_cred": {"username": "u", "password": "p"},
                "vim_project": {"name": "nfv"},
            }
            for n in range(VIMS)
        ]
        assert server.api("POST", "/v1.0/vims/import", json={"vims": fleet}).status_code == 201
        server.wait_for(lambda: server.api("GET", "/healthz").json()["monitors"] == VIMS, 60)
        yield server
    finally:
        server.stop()


def test_the_engine_runs_in_a_child_process_that_dies_with_the_server(
    fleet_server: Server,
) -> None:
    [engine] = engine_processes(fleet_server)
    assert engine != fleet_server.process.pid
    fleet_server.process.kill()
    fleet_server.process.wait()
    fleet_server.wait_for(lambda: gone(engine), 15)


def test_a_burst_of_api_load_does_not_stop_probing(fleet_server: Server) -> None:
    ids = [vim["id"] for vim in fleet_server.api("GET", "/v1.0/vims").json()["vims"]]
    stop = threading.Event()

    def hammer(n: int) -> None:
        with httpx.Client(base_url=fleet_server.url, timeout=60) as client:
            while not stop.is_set():
                if n % 4 == 0:
                    client.get("/v1.0/vims")
                else:
                    client.get(f"/v1.0/vims/{ids[n % len(ids)]}")

    before, began = probes_sent(fleet_server), time.monotonic()
    clients = [threading.Thread(target=hammer, args=(n,)) for n in range(24)]
    for client in clients:
        client.start()
    try:
        # Under the burst, /healthz still answers and says the monitors run.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            health = httpx.get(fleet_server.url + "/healthz", timeout=10)
            assert health.status_code == 200 and health.json()["monitors"] == VIMS
    finally:
        stop.set()
        for client in clients:
            client.join()
    sent, took = probes_sent(fleet_server) - before, time.monotonic() - began
    # Generous for a busy machine: half the schedule (the old design fell to 40 %).
    assert sent >= 0.5 * VIMS / INTERVAL * took, f"{sent:.0f} probes in {took:.1f} s"


def test_a_dead_engine_process_is_restarted_and_healthz_says_so_meanwhile(
    fleet_server: Server,
) -> None:
    [engine] = engine_processes(fleet_server)
    os.kill(engine, signal.SIGKILL)
    down = fleet_server.wait_for(
        lambda: (h := fleet_server.api("GET", "/healthz")).status_code == 503 and h, 30, 0.02
    )
    assert down.json()["engine"] is False
    assert "engine process" in down.json()["engine_error"]
    fleet_server.wait_for(
        lambda: (
            (h := fleet_server.api("GET", "/healthz")).status_code == 200
            and h.json()["monitors"] == VIMS
        ),
        60,
    )
    [restarted] = engine_processes(fleet_server)
    assert restarted != engine
    before = probes_sent(fleet_server)
    fleet_server.wait_for(lambda: probes_sent(fleet_server) > before + VIMS, 30)
