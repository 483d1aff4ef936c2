"""vimwatch stays right when things around it fail: crashes, races, a full disk, a jumping clock."""

from __future__ import annotations

import concurrent.futures
import random
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.lab import Lab
from tests.service import Server, vim_body

pytestmark = pytest.mark.faults
# vimwatch.registry.database sets SQLite's busy_timeout to 30 s.
BUSY_TIMEOUT = 30


def unvalidated(tmp_path: Path, **env: str) -> Server:
    return Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false", **env})


def running_executions(state_dir: Path) -> list[str]:
    with sqlite3.connect(state_dir / "vimwatch.db") as db:
        return [
            row[0] for row in db.execute("SELECT vim_id FROM executions WHERE state = 'RUNNING'")
        ]


def test_kill_9_with_1000_vims_brings_every_monitor_back_once(tmp_path: Path) -> None:
    server = unvalidated(tmp_path, VIMWATCH_MONITOR_INTERVAL="1", VIMWATCH_MONITOR_TIMEOUT="1")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for n in range(1000):
                address = f"127.1.{n // 250}.{n % 250 + 1}"
                assert client.post("/v1.0/vims", json=vim_body(f"v{n}", address)).status_code == 201
        server.wait_for(lambda: server.api("GET", "/healthz").json()["monitors"] == 1000)
        server.stop(signal.SIGKILL)
        started = time.monotonic()
        server.start()
        # The engine resumes its leases before the API answers: one interval is plenty.
        assert server.api("GET", "/healthz").json()["monitors"] == 1000
        assert time.monotonic() - started < 20
        executions = running_executions(server.state_dir)
        assert len(executions) == len(set(executions)) == 1000
    finally:
        server.stop()


def _hundred_writes() -> list[tuple[str, dict, list[str]]]:
    """Single registrations and fleet imports: (path, body, the names each would store)."""
    writes = []
    for n in range(100):
        if n % 3 == 0:
            names = [f"imported-{n}-{k}" for k in range(100)]
            vims = [vim_body(name, f"127.0.4.{k + 1}")["vim"] for k, name in enumerate(names)]
            writes.append(("/v1.0/vims/import", {"vims": vims}, names))
        else:
            writes.append(("/v1.0/vims", vim_body(f"single-{n}"), [f"single-{n}"]))
    return writes


@pytest.mark.parametrize("grace", ["30", "0.3"], ids=["grace-long-enough", "grace-cut-short"])
def test_sigterm_with_100_writes_in_flight_answers_2xx_for_exactly_what_it_stored(
    tmp_path: Path, grace: str
) -> None:
    # A slow monitor interval: the restarted server probes every VIM stored (thousands).
    server = unvalidated(
        tmp_path, VIMWATCH_SHUTDOWN_GRACE=grace, VIMWATCH_MONITOR_INTERVAL="10"
    ).start()
    writes = _hundred_writes()
    start = threading.Barrier(len(writes) + 1)
    first_answer = threading.Event()

    def send(path: str, body: dict) -> httpx.Response | httpx.HTTPError:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            start.wait()
            try:
                response = http.post(path, json=body)
            except httpx.HTTPError as exc:
                return exc
            first_answer.set()
            return response

    try:
        with concurrent.futures.ThreadPoolExecutor(len(writes)) as pool:
            sent = [pool.submit(send, path, body) for path, body, _ in writes]
            start.wait()
            assert first_answer.wait(60)
            assert server.stop(signal.SIGTERM, timeout=120), "the server did not stop by itself"
            outcomes = [future.result() for future in sent]
        stopped_log = server.log()
        server.start()
        listed = server.api("GET", "/v1.0/vims", params={"fields": ["id", "name"]}).json()["vims"]
    finally:
        server.stop()
    stored = {vim["name"]: vim["id"] for vim in listed}
    answered = 0
    for (path, _, names), outcome in zip(writes, outcomes, strict=True):
        if isinstance(outcome, httpx.Response) and outcome.is_success:
            answered += 1
            reply = outcome.json()
            ids = [vim["id"] for vim in reply["vims"]] if "vims" in reply else [reply["vim"]["id"]]
            assert [stored.get(name) for name in names] == ids, path
            continue
        assert not stored.keys() & set(names), f"{path} answered {outcome!r} but was stored"
        if isinstance(outcome, httpx.Response):
            assert outcome.status_code == 503, outcome.text
    assert answered > 0
    assert "Exception in ASGI application" not in stopped_log


def test_concurrent_register_and_delete_of_the_same_names_leaves_no_orphans(tmp_path) -> None:
    server = unvalidated(tmp_path).start()
    names = [f"contended-{n}" for n in range(5)]

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for _ in range(6):
                name = rng.choice(names)
                if rng.random() < 0.6:
                    http.post(
                        "/v1.0/vims",
                        json={"vim": {**vim_body(name)["vim"], "is_default": rng.random() < 0.5}},
                    )
                else:
                    found = http.get("/v1.0/vims", params={"name": name}).json()["vims"]
                    for vim in found:
                        http.delete(f"/v1.0/vims/{vim['id']}")

    try:
        with concurrent.futures.ThreadPoolExecutor(100) as pool:
            list(pool.map(client, range(100)))
        live = server.api("GET", "/v1.0/vims").json()["vims"]
        assert len({v["name"] for v in live}) == len(live)
        assert sum(v["is_default"] for v in live) <= 1
        wanted = sorted(v["id"] for v in live)
        try:
            server.wait_for(lambda: sorted(running_executions(server.state_dir)) == wanted)
        except AssertionError:
            running = set(running_executions(server.state_dir))
            raise AssertionError(
                f"running executions of deleted VIMs: {sorted(running - set(wanted))}; "
                f"live VIMs without one: {sorted(set(wanted) - running)}"
                f"\n{server.log()[-6000:]}"
            ) from None
        workflows = server.api("GET", "/v2/workflows").json()["workflows"]
        assert sorted(w["name"] for w in workflows) == sorted(f"vim_id_{v['id']}" for v in live)
        # The engine starts monitors in its lease rounds, a moment after the executions.
        server.wait_for(lambda: server.api("GET", "/healthz").json()["monitors"] == len(live))
    finally:
        server.stop()


@pytest.fixture
def tiny_disk(tmp_path: Path):  # noqa: ANN201
    mount = tmp_path / "state"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_gives_clear_errors_and_recovers_without_corruption(tiny_disk: Path) -> None:
    server = Server(tiny_disk, env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    try:
        assert server.api("POST", "/v1.0/vims", json=vim_body("before")).status_code == 201
        filler = tiny_disk / "filler"
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False
        )
        failures = [server.api("POST", "/v1.0/vims", json=vim_body(f"full-{n}")) for n in range(20)]
        refused = [r for r in failures if r.status_code != 201]
        assert refused, "the disk never filled up"
        for response in refused:
            assert response.status_code == 503, response.text
            assert "full" in response.json()["TackerError"]["message"]
        filler.unlink()
        assert server.api("POST", "/v1.0/vims", json=vim_body("after")).status_code == 201
        names = {v["name"] for v in server.api("GET", "/v1.0/vims").json()["vims"]}
        assert {"before", "after"} <= names
        assert server.alive()
    finally:
        server.stop()
    with sqlite3.connect(tiny_disk / "vimwatch.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.lab
def test_a_locked_database_file_delays_status_changes_but_loses_none(tmp_path: Path) -> None:
    # A writer holding the SQLite file (a backup, a forgotten `sqlite3` shell) for longer
    # than the busy timeout: every write of the server fails meanwhile; reads go on (WAL).
    server = unvalidated(tmp_path, VIMWATCH_MONITOR_INTERVAL="0.2", VIMWATCH_MONITOR_TIMEOUT="0.2")
    with Lab(hosts=1) as lab:
        host = lab.hosts[0]
        server.start()
        try:
            vim_id = server.register("behind-a-lock", host.address)
            server.wait_for(lambda: server.vim_status(vim_id) == "REACHABLE")
            holder = sqlite3.connect(server.state_dir / "vimwatch.db", isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                host.down()
                time.sleep(BUSY_TIMEOUT + 5)
                assert server.alive()
                assert server.api("GET", "/healthz").status_code == 200
                assert server.vim_status(vim_id) == "REACHABLE"
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            server.wait_for(lambda: server.vim_status(vim_id) == "UNREACHABLE", timeout=30)
            host.up()
            server.wait_for(lambda: server.vim_status(vim_id) == "REACHABLE", timeout=30)
            assert server.monitor_states(vim_id) == ["REACHABLE", "UNREACHABLE", "REACHABLE"]
            assert server.api("GET", "/healthz").json()["monitors"] == 1
        finally:
            server.stop()
