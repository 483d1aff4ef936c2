"""The mistral workflow backend against a real Mistral, RabbitMQ and PostgreSQL.

Each test gets its own deployment: a Mistral (control plane plus two executors, in the cached
environment of tests/mistral with this checkout's action installed), vimwatch's api and
conductor with VIMWATCH_WORKFLOW_BACKEND=mistral, two scratch PostgreSQL databases and a
private RabbitMQ vhost that vimwatch and Mistral share. The real `mistral` CLI reads back
what vimwatch did.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest

from tests import polling
from tests.broker import private_vhost, rabbitmqctl
from tests.databases import scratch_database
from tests.mistral.deployment import HEARTBEAT, Mistral
from tests.mistral.environment import ensure_mistral_environment
from tests.service import Process, Server

pytestmark = pytest.mark.mistral

TASK = "monitor_ping_vimPingVIMTASK"
# Detection takes at most (max_missed + 1) heartbeat intervals plus one checker period,
# then the retry policy waits 3 s; the rest is slack for a loaded two-core machine.
FAILOVER_BOUND = (HEARTBEAT["max_missed_heartbeats"] + 2) * HEARTBEAT["check_interval"] + 15


@pytest.fixture(scope="session")
def mistral_venv() -> Path:
    return ensure_mistral_environment()


class MistralMode:
    """vimwatch's api and conductor on the mistral backend, beside a real Mistral."""

    def __init__(
        self, tmp_path: Path, venv: Path, databases: tuple[str, str], transport: str, vhost: str
    ) -> None:
        vimwatch_db, mistral_db = databases
        self.vhost = vhost
        self.mistral = Mistral(
            venv,
            tmp_path / "mistral",
            database_url=mistral_db.replace("+psycopg:", "+psycopg2:"),
            transport_url=transport,
            vimwatch_transport_url=transport,
        )
        self.env = {
            "VIMWATCH_DATABASE_URL": vimwatch_db,
            "VIMWATCH_TRANSPORT_URL": transport,
            "VIMWATCH_WORKFLOW_BACKEND": "mistral",
            "VIMWATCH_MISTRAL_URL": self.mistral.url,
            "VIMWATCH_VALIDATE_VIMS": "false",
            # The defaults: a busy two-core machine can delay a loopback echo past 0.2 s.
            "VIMWATCH_MONITOR_INTERVAL": "1",
            "VIMWATCH_MONITOR_TIMEOUT": "1",
        }
        self.conductor = Process(tmp_path / "conductor", self.env, role=("conductor",))
        self.api = Server(tmp_path / "api", self.env, role=("api",))

    def start(self) -> None:
        self._upgrade()
        self.mistral.prepare()
        self.mistral.start()
        self.conductor.launch()
        self.api.start()

    def _upgrade(self) -> None:
        upgrade = Process(self.api.state_dir, self.env, role=("db", "upgrade"))
        upgrade.launch()
        assert upgrade.process is not None
        assert upgrade.process.wait(120) == 0, upgrade.log()

    def log_tails(self, lines: int = 40) -> str:
        """The end of every process's log: shown by pytest for a failed test, since these
        tests wait on several processes and a bare timeout says nothing of which one."""
        processes = {"api": self.api, "conductor": self.conductor, "mistral": self.mistral.control}
        processes.update(self.mistral.executors)
        return "\n".join(
            f"--- {name}\n" + "\n".join(process.log().splitlines()[-lines:])
            for name, process in processes.items()
            if process is not None
        )

    def close(self) -> None:
        self.api.stop()
        self.conductor.stop()
        self.mistral.stop()

    def workflows(self, vim_id: str) -> list[dict]:
        return self.mistral.table("workflow-list", "--filter", f"name=vim_id_{vim_id}")

    def executions(self, vim_id: str) -> list[dict]:
        return self.mistral.table("execution-list", "--filter", f"workflow_name=vim_id_{vim_id}")

    def tasks(self, vim_id: str) -> list[dict]:
        return self.mistral.table("task-list", "--filter", f"workflow_name=vim_id_{vim_id}")

    def kill_bindings(self) -> dict[str, list[str]]:
        """KILL_ACTION.<vim id> -> the queues bound to it (one per process)."""
        out = rabbitmqctl(
            "list_bindings", "-p", self.vhost, "-q", "--no-table-headers",
            "routing_key", "destination_name",
        )  # fmt: skip
        bound: dict[str, list[str]] = {}
        for line in out.splitlines():
            key, _, queue = line.strip().partition("\t")
            if key.startswith("KILL_ACTION."):
                bound.setdefault(key.removeprefix("KILL_ACTION."), []).append(queue)
        return bound

    def monitors_per_queue(self) -> Counter[str]:
        return Counter(queue for queues in self.kill_bindings().values() for queue in queues)

    def queues(self) -> list[str]:
        out = rabbitmqctl("list_queues", "-p", self.vhost, "-q", "--no-table-headers", "name")
        return sorted(line.strip() for line in out.splitlines() if line.strip())


@pytest.fixture
def deployment(tmp_path: Path, mistral_venv: Path) -> Iterator[MistralMode]:
    with (
        scratch_database("postgresql", tmp_path) as vimwatch_db,
        scratch_database("postgresql", tmp_path) as mistral_db,
        private_vhost() as (transport, vhost),
    ):
        mode = MistralMode(tmp_path, mistral_venv, (vimwatch_db, mistral_db), transport, vhost)
        try:
            mode.start()
            yield mode
        finally:
            print(mode.log_tails())
            mode.close()


@contextmanager
def answering_port() -> Iterator[int]:
    """A loopback port that accepts (and drops) connections until the block ends; accepting
    matters, since a full backlog would look like an outage to the tcp probe."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.2)
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    listener.accept()[0].close()

        acceptor = threading.Thread(target=accept, daemon=True)
        acceptor.start()
        try:
            yield listener.getsockname()[1]
        finally:
            stop.set()
            acceptor.join(5)


# A real Mistral on a loaded two-core machine is slow: 60 s a condition, polled twice a second.
wait_for = partial(polling.wait_for, timeout=60.0, interval=0.5)


# Installed by vimwatch's `server` extra only; Mistral's own driver is psycopg2.
SERVER_PACKAGES = ("fastapi", "starlette", "uvicorn", "httptools", "psycopg", "pymysql")


def test_the_executors_environment_runs_the_action_without_the_servers_packages(
    mistral_venv: Path,
) -> None:
    """pip install 'vimwatch[mistral]' brings the monitor action and none of the API
    server's packages; the walk-through below then runs the action in that environment,
    and the server's roles there refuse to start with what to install."""
    found = subprocess.run(
        [
            str(mistral_venv / "bin" / "python"),
            "-c",
            "import importlib.util, sys, vimwatch.hosts.mistral_action\n"
            "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))",
            *SERVER_PACKAGES,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert found.stdout.split() == []
    serve = subprocess.run(
        [str(mistral_venv / "bin" / "vimwatch"), "serve"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert serve.returncode != 0
    assert "pip install 'vimwatch[server]'" in serve.stderr


def test_walkthrough_on_mistral_shows_the_seed_story_and_leaves_nothing(
    deployment: MistralMode,
) -> None:
    api = deployment.api
    vim_id = api.register("testvim2", "127.0.0.1")
    name = f"vim_id_{vim_id}"

    assert [(w["Name"], w["Scope"]) for w in deployment.workflows(vim_id)] == [(name, "private")]
    # A busy Mistral may start the execution after vimwatch's request timed out; then
    # the reconciler sees it, or starts it again, within seconds.
    wait_for(lambda: [e["State"] for e in deployment.executions(vim_id)] == ["RUNNING"])
    assert [(t["Name"], t["State"]) for t in deployment.tasks(vim_id)] == [(TASK, "RUNNING")]
    wait_for(lambda: api.vim_status(vim_id) == "REACHABLE")
    assert list(deployment.kill_bindings()) == [vim_id]

    others = [api.register(f"more-{n}", f"127.0.0.{n + 2}") for n in range(5)]
    wait_for(lambda: len(deployment.kill_bindings()) == 6)
    executor_queues = [q for q in deployment.queues() if q.startswith("vimwatch.mistral-executor")]
    assert len(executor_queues) == len(deployment.monitors_per_queue()) <= 2, executor_queues

    assert api.api("DELETE", f"/v1.0/vims/{vim_id}").status_code == 204
    assert deployment.workflows(vim_id) == []
    assert deployment.executions(vim_id) == []
    assert deployment.tasks(vim_id) == []
    wait_for(lambda: vim_id not in deployment.kill_bindings())
    assert sorted(deployment.kill_bindings()) == sorted(others)
    assert api.monitor_states(vim_id) == ["REACHABLE"]
    events = api.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()["events"]
    assert [e["event_type"] for e in events] == ["CREATE", "MONITOR", "DELETE"]


def test_executor_killed_with_sigkill_hands_its_monitors_to_a_survivor_once(
    deployment: MistralMode,
) -> None:
    api = deployment.api
    with answering_port() as port:
        watched = api.register("tcp-vim", f"127.0.0.1:{port}", probe="tcp")
        vims = [watched] + [api.register(f"vim-{n}", f"127.0.0.{n + 2}") for n in range(7)]
        wait_for(lambda: all(api.vim_status(v) == "REACHABLE" for v in vims))
        wait_for(lambda: len(deployment.kill_bindings()) == len(vims))
        per_queue = deployment.monitors_per_queue()
        assert len(per_queue) == 2, f"both executors should run monitors: {per_queue}"
        victim_queue = next(iter(per_queue))
        victim_pid = victim_queue.split(".")[2]
        victim = next(
            name
            for name, executor in deployment.mistral.executors.items()
            if victim_pid in map(str, executor.group_pids())
        )
        survivor_queue = next(q for q in per_queue if q != victim_queue)
        moved = {v for v, queues in deployment.kill_bindings().items() if victim_queue in queues}

        killed_at = time.monotonic()
        deployment.mistral.executors[victim].kill()
        wait_for(
            lambda: deployment.monitors_per_queue() == Counter({survivor_queue: len(vims)}),
            timeout=FAILOVER_BOUND,
        )
        failover = time.monotonic() - killed_at
        print(f"monitors of {len(moved)} VIMs restarted on the survivor after {failover:.1f} s")

        bindings = deployment.kill_bindings()
        assert all(bindings[v] == [survivor_queue] for v in vims), "one monitor per VIM"
        for vim_id in moved:
            assert [e["State"] for e in deployment.executions(vim_id)] == ["RUNNING"]
            assert [t["State"] for t in deployment.tasks(vim_id)] == ["RUNNING"]
        assert all(api.monitor_states(v) == ["REACHABLE"] for v in vims)
    # The port is closed: whichever executor now runs tcp-vim's monitor must notice.
    wait_for(lambda: api.vim_status(watched) == "UNREACHABLE")
    assert api.monitor_states(watched) == ["REACHABLE", "UNREACHABLE"]


def test_registrations_while_mistral_is_down_stay_pending_and_get_their_workflow_when_it_is_back(
    deployment: MistralMode,
) -> None:
    api = deployment.api
    before = api.register("before", "127.0.0.2")
    doomed = api.register("doomed", "127.0.0.3")
    wait_for(lambda: len(deployment.kill_bindings()) == 2)

    deployment.mistral.stop()
    during = api.register("during", "127.0.0.4")
    assert api.vim_status(during) == "PENDING"
    assert api.api("DELETE", f"/v1.0/vims/{doomed}").status_code == 204
    time.sleep(3)
    assert api.vim_status(during) == "PENDING"
    assert api.api("GET", "/healthz").status_code == 200

    deployment.mistral.start()
    back = time.monotonic()
    assert [e["State"] for e in wait_for(lambda: deployment.executions(during))] == ["RUNNING"]
    wait_for(lambda: api.vim_status(during) == "REACHABLE")
    wait_for(lambda: deployment.workflows(doomed) == [])
    # The monitors Mistral lost with its executors come back through heartbeats and retry.
    wait_for(lambda: sorted(deployment.kill_bindings()) == sorted([before, during]), timeout=90)
    print(f"monitors running {time.monotonic() - back:.1f} s after Mistral answered again")
    assert all(len(queues) == 1 for queues in deployment.kill_bindings().values())
    assert [e["State"] for e in deployment.executions(before)] == ["RUNNING"]


def test_start_up_reconcile_recreates_missing_workflows_and_removes_orphans(
    deployment: MistralMode, tmp_path: Path
) -> None:
    api = deployment.api
    kept = api.register("kept", "127.0.0.2")
    lost = api.register("lost", "127.0.0.3")
    wait_for(lambda: len(deployment.kill_bindings()) == 2)
    api.stop()

    for execution in deployment.executions(lost):
        deployment.mistral.run("execution-delete", "--force", execution["ID"])
    deployment.mistral.run("workflow-delete", f"vim_id_{lost}")
    orphan = "0f0f0f0f-0000-4000-8000-000000000000"
    definition = tmp_path / "orphan.yaml"
    definition.write_text(
        f"version: '2.0'\nvim_id_{orphan}:\n  type: direct\n  tasks:\n    {TASK}:\n"
        f"      action: vimwatch.vim_ping_action\n      input: {{vim_id: {orphan},"
        " auth_url: 'http://127.0.0.9/identity', targetip: 127.0.0.9, cert_verify: true,"
        " probe: icmp, interval: 1, timeout: 1, down_after: 3, up_after: 1}\n"
    )
    deployment.mistral.run("workflow-create", str(definition))
    deployment.mistral.run("execution-create", f"vim_id_{orphan}")
    # vimwatch does not know that VIM: its monitor ends at its first report to the conductor.
    wait_for(lambda: [e["State"] for e in deployment.executions(orphan)] == ["SUCCESS"])
    assert orphan not in deployment.kill_bindings()

    api.start()
    wait_for(lambda: [e["State"] for e in deployment.executions(lost)] == ["RUNNING"])
    wait_for(lambda: deployment.workflows(orphan) == [])
    wait_for(lambda: sorted(deployment.kill_bindings()) == sorted([kept, lost]))
    assert [e["State"] for e in deployment.executions(kept)] == ["RUNNING"]
    # The monitor left running by the deleted execution was superseded by the new one.
    assert all(len(queues) == 1 for queues in deployment.kill_bindings().values())


def test_a_second_execution_of_a_vims_workflow_supersedes_the_first_monitor(
    deployment: MistralMode,
) -> None:
    api = deployment.api
    vim_id = api.register("twice", "127.0.0.2")
    wait_for(lambda: vim_id in deployment.kill_bindings())
    first = deployment.executions(vim_id)[0]["ID"]

    deployment.mistral.run("execution-create", f"vim_id_{vim_id}")
    states = lambda: {e["ID"]: e["State"] for e in deployment.executions(vim_id)}  # noqa: E731
    seen: set[str] = set()

    def first_ended() -> bool:
        now = states()
        seen.add(now.get(first, "removed"))
        return now.get(first) != "RUNNING"

    wait_for(first_ended)
    # It ends cleanly; the api's standing repair then tidies the ended execution away.
    assert seen <= {"RUNNING", "SUCCESS", "removed"} and seen & {"SUCCESS", "removed"}
    wait_for(lambda: list(states().values()) == ["RUNNING"])
    assert first not in states()
    assert len(deployment.kill_bindings()[vim_id]) == 1
    assert api.monitor_states(vim_id) == ["REACHABLE"]
