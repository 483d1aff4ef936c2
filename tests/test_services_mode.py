"""Services mode: api, conductors and engines as separate processes on RabbitMQ and PostgreSQL.

Each test gets a private PostgreSQL database and RabbitMQ vhost, and runs the real
`vimwatch api|conductor|engine` processes; lab hosts in network namespaces change state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tests import polling
from tests.broker import cast, kill_bindings, private_vhost, queues, rabbitmqctl
from tests.databases import scratch_database
from tests.lab import Lab
from tests.service import VIMWATCH, Process, Server, free_port

pytestmark = pytest.mark.services


class Services:
    """One deployment: its database, its vhost and the processes running on them."""

    def __init__(self, tmp_path: Path, database_url: str, transport_url: str, vhost: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.transport_url = transport_url
        self.vhost = vhost
        self.env = {
            "VIMWATCH_DATABASE_URL": database_url,
            "VIMWATCH_TRANSPORT_URL": transport_url,
            "VIMWATCH_VALIDATE_VIMS": "false",
            "VIMWATCH_LEASE_TTL": "1.5",
        }
        self.processes: list[Process] = []
        self.api = Server(tmp_path / "api", self.env, role=("api",))
        self.processes.append(self.api)
        self.db = create_engine(database_url)

    def upgrade(self) -> None:
        subprocess.run(
            [*VIMWATCH, "db", "upgrade"],
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
            timeout=120,
        )

    def role(self, *role: str, name: str, **env: str) -> Process:
        process = Process(self.tmp_path / name, {**self.env, **env}, role=role)
        process.launch()
        self.processes.append(process)
        return process

    def engine(self, engine_id: str) -> Process:
        return self.role("engine", name=f"engine-{engine_id}", VIMWATCH_ENGINE_ID=engine_id)

    def running_executions(self) -> dict[str, list[tuple[str, dict]]]:
        """Each VIM's RUNNING executions (id and task input), from the database itself."""
        found: dict[str, list[tuple[str, dict]]] = {}
        with self.db.connect() as connection:
            rows = connection.execute(
                text("SELECT vim_id, id, input FROM executions WHERE state = 'RUNNING'")
            )
            for row in rows:
                found.setdefault(row.vim_id, []).append((row.id, json.loads(row.input)))
        return found

    def owners(self) -> Counter[str]:
        """How many running executions each engine holds, from the database itself."""
        with self.db.connect() as connection:
            rows = connection.execute(
                text("SELECT engine_id FROM executions WHERE state = 'RUNNING'")
            )
            return Counter(row.engine_id for row in rows)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.db.dispose()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with scratch_database("postgresql", tmp_path) as url, private_vhost() as (transport, vhost):
        deployment = Services(tmp_path, url, transport, vhost)
        try:
            deployment.upgrade()
            yield deployment
        finally:
            deployment.close()


# Processes on a broker and a database server: each step is given 20 s.
wait_for = partial(polling.wait_for, timeout=20.0)


def test_walkthrough_in_services_mode_with_one_queue_per_process(services: Services) -> None:
    services.role("conductor", name="conductor")
    services.engine("e1")
    services.api.start()
    vim_id = services.api.register("testvim2", "127.0.0.1")
    name = f"vim_id_{vim_id}"
    assert services.api.api("GET", "/v2/workflows", params={"name": name}).json()["workflows"]
    wait_for(lambda: services.api.vim_status(vim_id) == "REACHABLE")
    tasks = services.api.api("GET", "/v2/tasks", params={"workflow_name": name}).json()["tasks"]
    assert [(t["name"], t["state"]) for t in tasks] == [("monitor_ping_vimPingVIMTASK", "RUNNING")]
    assert kill_bindings(services.vhost) == {f"KILL_ACTION.{vim_id}"}

    queues_for_one = len(queues(services.vhost))
    others = [services.api.register(f"more-{n}", f"127.0.0.{n + 2}") for n in range(5)]
    wait_for(lambda: len(kill_bindings(services.vhost)) == 6)
    assert len(queues(services.vhost)) == queues_for_one

    assert services.api.api("DELETE", f"/v1.0/vims/{vim_id}").status_code == 204
    wait_for(lambda: f"KILL_ACTION.{vim_id}" not in kill_bindings(services.vhost))
    assert kill_bindings(services.vhost) == {f"KILL_ACTION.{v}" for v in others}
    assert services.api.api("GET", "/v2/executions", params={"workflow_name": name}).json() == {
        "executions": []
    }
    assert services.api.monitor_states(vim_id) == ["REACHABLE"]


def scrape(port: int) -> dict[str, float]:
    """Every sample on a process's /metrics, by name and labels."""
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        sample.name + str(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_engine_and_conductor_serve_their_own_metrics_and_not_the_fleet(
    services: Services,
) -> None:
    conductor_port, engine_port = free_port(), free_port()
    services.role("conductor", name="conductor", VIMWATCH_METRICS_PORT=str(conductor_port))
    services.role(
        "engine", name="engine-m", VIMWATCH_ENGINE_ID="m", VIMWATCH_METRICS_PORT=str(engine_port)
    )
    services.api.start()
    vim_id = services.api.register("measured", "127.0.0.1")
    wait_for(lambda: services.api.vim_status(vim_id) == "REACHABLE")

    engine = scrape(engine_port)
    assert engine["vimwatch_monitors[]"] == 1
    assert engine["vimwatch_probes_sent_total[]"] >= 1
    assert engine["vimwatch_conductor_call_seconds_count[]"] >= 1
    assert engine["vimwatch_engine_loop_lag_seconds_count[]"] >= 1
    conductor = scrape(conductor_port)
    assert conductor["vimwatch_status_transitions_total[('status', 'REACHABLE')]"] == 1
    # The fleet's series come from the api alone, so that sums over processes stay true.
    assert not any(name.startswith("vimwatch_vims") for name in {**engine, **conductor})
    api = httpx.get(f"{services.api.url}/metrics", timeout=5).text
    assert 'vimwatch_vims{status="REACHABLE"} 1.0' in api


def test_two_engines_share_the_vims_and_survive_one_being_killed(services: Services) -> None:
    services.role("conductor", name="conductor")
    first = services.engine("e1")
    services.api.start()
    vims = [services.api.register(f"vim-{n}", f"127.0.0.{n + 1}") for n in range(10)]
    wait_for(lambda: services.owners() == Counter({"e1": 10}))
    services.engine("e2")
    wait_for(lambda: services.owners() == Counter({"e1": 5, "e2": 5}))

    first.stop(signal.SIGKILL)
    wait_for(lambda: services.owners() == Counter({"e2": 10}), timeout=10)
    wait_for(lambda: len(kill_bindings(services.vhost)) == 10)

    services.engine("e1")
    wait_for(lambda: services.owners() == Counter({"e1": 5, "e2": 5}))
    assert len(kill_bindings(services.vhost)) == 10
    assert all(services.api.vim_status(v) == "REACHABLE" for v in vims)


@pytest.mark.lab
@pytest.mark.shared_services
def test_status_changes_during_a_rabbitmq_restart_are_not_lost(services: Services) -> None:
    services.role("conductor", name="conductor")
    services.engine("e1")
    services.api.start()
    with Lab(hosts=2) as lab:
        ids = [services.api.register(f"lab-{n}", host.address) for n, host in enumerate(lab.hosts)]
        wait_for(lambda: all(services.api.vim_status(v) == "REACHABLE" for v in ids))
        rabbitmqctl("stop_app")
        try:
            for host in lab.hosts:
                host.down()
            time.sleep(3)
        finally:
            rabbitmqctl("start_app")
        wait_for(lambda: all(services.api.vim_status(v) == "UNREACHABLE" for v in ids), timeout=60)
        for host in lab.hosts:
            host.up()
        wait_for(lambda: all(services.api.vim_status(v) == "REACHABLE" for v in ids), timeout=30)
    assert all(p.alive() for p in services.processes)
    for vim_id in ids:
        assert services.api.monitor_states(vim_id) == ["REACHABLE", "UNREACHABLE", "REACHABLE"]


def _postgres(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.lab
@pytest.mark.shared_services
def test_postgresql_down_for_30_seconds_delays_changes_but_loses_none(services) -> None:
    services.role("conductor", name="conductor")
    services.engine("e1")
    services.api.start()
    with Lab(hosts=1) as lab:
        host = lab.hosts[0]
        vim_id = services.api.register("lab-pg", host.address)
        wait_for(lambda: services.api.vim_status(vim_id) == "REACHABLE")
        _postgres("stop")
        try:
            host.down()
            time.sleep(30)
        finally:
            _postgres("start")
        wait_for(lambda: services.api.vim_status(vim_id) == "UNREACHABLE", timeout=60)
    assert all(p.alive() for p in services.processes)
    assert services.api.monitor_states(vim_id) == ["REACHABLE", "UNREACHABLE"]


@pytest.mark.lab
def test_a_conductor_killed_mid_call_still_applies_each_change_once(services) -> None:
    doomed = services.role("conductor", name="conductor-a")
    services.role("conductor", name="conductor-b")
    services.engine("e1")
    services.api.start()
    with Lab(hosts=3) as lab:
        ids = [services.api.register(f"lab-{n}", host.address) for n, host in enumerate(lab.hosts)]
        wait_for(lambda: all(services.api.vim_status(v) == "REACHABLE" for v in ids))
        for host in lab.hosts:
            host.down()
        time.sleep(0.5)
        doomed.stop(signal.SIGKILL)
        wait_for(lambda: all(services.api.vim_status(v) == "UNREACHABLE" for v in ids), timeout=30)
    for vim_id in ids:
        assert services.api.monitor_states(vim_id) == ["REACHABLE", "UNREACHABLE"]


@pytest.mark.lab
def test_50_vims_whose_monitor_settings_change_as_their_hosts_go_down_all_end_unreachable(
    services: Services,
) -> None:
    """Each update kills the VIM's execution and starts another; a kill that reaches the
    engine late must end only the execution it was sent for, never the new one."""
    services.role("conductor", name="conductor")
    services.engine("e1")
    services.api.start()
    # VIMs on loopback stay up, so that the engine does not take the outage for its own
    # network's (which holds UNREACHABLE changes back; see monitor.guard).
    steady = [services.api.register(f"steady-{n}", f"127.0.0.{n + 1}") for n in range(10)]
    with Lab() as lab:
        host = lab.add_subnet(50)
        ids = [services.api.register(f"lab-{n}", a) for n, a in enumerate(host.addresses)]
        wait_for(lambda: all(services.api.vim_status(v) == "REACHABLE" for v in ids), timeout=60)
        change = {"vim": {"extra": {"monitor": {"down_after": 2, "interval": 0.3}}}}
        with ThreadPoolExecutor(max_workers=50) as pool:
            updates = [
                pool.submit(services.api.api, "PUT", f"/v1.0/vims/{v}", json=change) for v in ids
            ]
            host.down()
            assert [update.result().status_code for update in updates] == [200] * len(ids)
        wait_for(lambda: all(services.api.vim_status(v) == "UNREACHABLE" for v in ids), timeout=60)
    running = services.running_executions()
    assert {v: len(running.get(v, [])) for v in ids} == dict.fromkeys(ids, 1)
    assert all(running[v][0][1]["interval"] == 0.3 for v in ids)
    assert kill_bindings(services.vhost) == {f"KILL_ACTION.{v}" for v in ids + steady}
    assert all(services.api.vim_status(v) == "REACHABLE" for v in steady)


@pytest.mark.lab
def test_a_monitor_killed_behind_the_engines_back_is_repaired_and_counted(
    services: Services,
) -> None:
    engine_port = free_port()
    services.role("conductor", name="conductor")
    services.role(
        "engine", name="engine-m", VIMWATCH_ENGINE_ID="m", VIMWATCH_METRICS_PORT=str(engine_port)
    )
    services.api.start()
    with Lab(hosts=1) as lab:
        host = lab.hosts[0]
        vim_id = services.api.register("repaired", host.address)
        wait_for(lambda: services.api.vim_status(vim_id) == "REACHABLE")
        ((lost, _),) = services.running_executions()[vim_id]
        repairs = scrape(engine_port)["vimwatch_monitor_repairs_total[]"]

        # Nobody deleted or changed the VIM, yet its monitor ends and its execution with it.
        cast(services.transport_url, f"KILL_ACTION.{vim_id}", "killAction", execution_id=lost)
        wait_for(lambda: lost not in dict(services.running_executions().get(vim_id, [])))
        host.down()
        wait_for(lambda: services.api.vim_status(vim_id) == "UNREACHABLE")
    ((repaired, _),) = services.running_executions()[vim_id]
    assert repaired != lost
    assert kill_bindings(services.vhost) == {f"KILL_ACTION.{vim_id}"}
    assert scrape(engine_port)["vimwatch_monitor_repairs_total[]"] == repairs + 1
    assert services.api.monitor_states(vim_id) == ["REACHABLE", "UNREACHABLE"]
