"""The runtime behind the Mistral action, without Mistral: real RabbitMQ, a real conductor.

Mistral calls the action's run() in a thread per action; these tests do the same with a
thread pool, so what they pin (one queue per process, kills, superseding, reports) is what
the executors see. The end-to-end story with a real Mistral is in test_mistral_backend.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests import polling
from tests.broker import cast, private_vhost, queues, rabbitmqctl
from tests.rows import insert_vim
from tests.service import Process
from vimwatch.errors import VimwatchError
from vimwatch.hosts import mistral_runtime
from vimwatch.hosts.mistral_runtime import MonitorRuntime, Outcome
from vimwatch.messaging.base import MessagingError
from vimwatch.registry.database import Registry, make_db_engine, migrate
from vimwatch.registry.models import Vim

OUTCOME_TIMEOUT = 20.0


@pytest.fixture
def broker() -> Iterator[tuple[str, str]]:
    with private_vhost() as (url, vhost):
        yield url, vhost


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """Stands in for Mistral's executor threads; those still monitoring are released when
    their runtime closes, after this fixture, so it must not wait for them."""
    threads = ThreadPoolExecutor(max_workers=8)
    try:
        yield threads
    finally:
        threads.shutdown(wait=False)


def open_runtime(url: str, name: str) -> MonitorRuntime:
    runtime = MonitorRuntime(url, process_name=name)
    runtime.start()
    return runtime


@pytest.fixture
def runtime(broker: tuple[str, str]) -> Iterator[MonitorRuntime]:
    runtime = open_runtime(broker[0], "executor-1")
    try:
        yield runtime
    finally:
        runtime.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def task_input(vim_id: str, port: int, **overrides: Any) -> dict[str, Any]:
    """A tcp monitor; by default one that never reports (a closed port, 1000 failures)."""
    return {
        "vim_id": vim_id,
        "auth_url": f"http://127.0.0.1:{port}/identity",
        "targetip": "127.0.0.1",
        "cert_verify": True,
        "probe": "tcp",
        "interval": 0.2,
        "timeout": 0.2,
        "down_after": 1000,
        "up_after": 1,
        **overrides,
    }


def bindings(vhost: str) -> dict[str, list[str]]:
    out = rabbitmqctl(
        "list_bindings", "-p", vhost, "-q", "--no-table-headers", "routing_key", "destination_name"
    )
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, queue = line.strip().partition("\t")
        if key.startswith("KILL_ACTION."):
            found.setdefault(key.removeprefix("KILL_ACTION."), []).append(queue)
    return found


wait_for = partial(polling.wait_for, timeout=OUTCOME_TIMEOUT)


def test_all_monitors_of_a_process_share_one_queue_and_each_stops_on_its_kill(
    broker: tuple[str, str], runtime: MonitorRuntime, pool: ThreadPoolExecutor
) -> None:
    url, vhost = broker
    port = closed_port()
    actions = {v: pool.submit(runtime.monitor, task_input(v, port), f"action-{v}") for v in "abc"}
    wait_for(lambda: sorted(bindings(vhost)) == ["a", "b", "c"])
    assert all(bound == [runtime.queue_name] for bound in bindings(vhost).values())
    assert queues(vhost) == [runtime.queue_name]

    cast(url, "KILL_ACTION.b", "killAction")
    assert actions["b"].result(OUTCOME_TIMEOUT) is Outcome.KILLED
    wait_for(lambda: sorted(bindings(vhost)) == ["a", "c"])
    assert not actions["a"].done() and not actions["c"].done()
    assert runtime.monitored() == {"a", "c"}


def test_a_newer_monitor_of_a_vim_in_the_same_process_supersedes_the_older(
    broker: tuple[str, str], runtime: MonitorRuntime, pool: ThreadPoolExecutor
) -> None:
    url, vhost = broker
    port = closed_port()
    older = pool.submit(runtime.monitor, task_input("v", port), "older")
    wait_for(lambda: "v" in bindings(vhost))
    newer = pool.submit(runtime.monitor, task_input("v", port), "newer")
    assert older.result(OUTCOME_TIMEOUT) is Outcome.SUPERSEDED
    assert bindings(vhost) == {"v": [runtime.queue_name]}

    cast(url, "KILL_ACTION.v", "killAction")
    assert newer.result(OUTCOME_TIMEOUT) is Outcome.KILLED
    wait_for(lambda: bindings(vhost) == {})


def test_a_late_kill_of_a_vims_previous_execution_leaves_the_new_monitor_running(
    broker: tuple[str, str], runtime: MonitorRuntime, pool: ThreadPoolExecutor
) -> None:
    """A VIM's monitor settings changed: its execution was replaced, and the new one's
    action started here before the kill of the old one arrived."""
    url, vhost = broker
    port = closed_port()
    older = pool.submit(runtime.monitor, task_input("v", port), "action-1", "execution-1")
    wait_for(lambda: "v" in bindings(vhost))
    newer = pool.submit(runtime.monitor, task_input("v", port), "action-2", "execution-2")
    assert older.result(OUTCOME_TIMEOUT) is Outcome.SUPERSEDED
    bystander = pool.submit(runtime.monitor, task_input("w", port), "action-3", "execution-3")
    wait_for(lambda: "w" in bindings(vhost))

    cast(url, "KILL_ACTION.v", "killAction", execution_id="execution-1")
    # Sent after the stale kill: once it has ended its monitor, the stale one was handled.
    cast(url, "KILL_ACTION.w", "killAction", execution_id="execution-3")
    assert bystander.result(OUTCOME_TIMEOUT) is Outcome.KILLED
    assert not newer.done()
    assert runtime.monitored() == {"v"}

    cast(url, "KILL_ACTION.v", "killAction", execution_id="execution-2")
    assert newer.result(OUTCOME_TIMEOUT) is Outcome.KILLED
    wait_for(lambda: bindings(vhost) == {})


def test_an_older_monitor_in_another_process_ends_when_a_newer_one_starts(
    broker: tuple[str, str], runtime: MonitorRuntime, pool: ThreadPoolExecutor
) -> None:
    url, vhost = broker
    port = closed_port()
    older = pool.submit(runtime.monitor, task_input("v", port), "older")
    wait_for(lambda: "v" in bindings(vhost))
    other = open_runtime(url, "executor-2")
    try:
        newer = pool.submit(other.monitor, task_input("v", port), "newer")
        assert older.result(OUTCOME_TIMEOUT) is Outcome.SUPERSEDED
        wait_for(lambda: bindings(vhost) == {"v": [other.queue_name]})
        assert not newer.done()
        # A claim older than its own (an executor cut off since) does not end the monitor.
        cast(url, "KILL_ACTION.v", "supersede", action_id="cut-off", started_at=0.0)
        time.sleep(1)
        assert not newer.done()
    finally:
        other.close()
    assert newer.result(OUTCOME_TIMEOUT) is Outcome.FAILED


def test_status_changes_reach_the_conductor_and_a_vim_it_does_not_know_ends_its_monitor(
    broker: tuple[str, str], runtime: MonitorRuntime, pool: ThreadPoolExecutor, tmp_path: Path
) -> None:
    url, _ = broker
    database = f"sqlite:///{tmp_path / 'vimwatch.db'}"
    db_engine = make_db_engine(database)
    migrate(db_engine)
    registry = Registry(db_engine)
    with registry.transaction() as session:
        insert_vim(session, "known")
    conductor = Process(
        tmp_path / "state",
        {"VIMWATCH_DATABASE_URL": database, "VIMWATCH_TRANSPORT_URL": url},
        role=("conductor",),
    )
    conductor.launch()
    try:
        wait_for(lambda: "conductor serving" in conductor.log())
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            settings = {"down_after": 2}
            known = pool.submit(runtime.monitor, task_input("known", port, **settings), "a1")
            ghost = pool.submit(runtime.monitor, task_input("ghost", port, **settings), "a2")
            assert ghost.result(OUTCOME_TIMEOUT) is Outcome.VIM_GONE
            wait_for(lambda: status(registry, "known") == "REACHABLE")
        wait_for(lambda: status(registry, "known") == "UNREACHABLE")
        assert not known.done()
    finally:
        conductor.stop()
        db_engine.dispose()


def status(registry: Registry, vim_id: str) -> str:
    with registry.reading() as session:
        return session.scalar(select(Vim.status).where(Vim.id == vim_id))


def test_a_monitor_input_that_describes_no_monitor_is_refused_before_anything_starts(
    broker: tuple[str, str], runtime: MonitorRuntime
) -> None:
    with pytest.raises(VimwatchError):
        runtime.monitor(task_input("v", 80, probe="smoke-signals"), "a1")
    with pytest.raises(KeyError):
        runtime.monitor({"vim_id": "v"}, "a2")
    assert runtime.monitored() == set()
    assert bindings(broker[1]) == {}


def test_a_runtime_that_cannot_reach_the_broker_fails_to_start_and_leaves_no_thread() -> None:
    runtime = MonitorRuntime(
        f"rabbit://guest:guest@127.0.0.1:{closed_port()}/", process_name="nowhere"
    )
    with pytest.raises(MessagingError):
        runtime.start()
    assert not runtime.alive()


def test_the_process_runtime_is_started_once_and_needs_the_transport_url(
    broker: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(mistral_runtime.TRANSPORT_URL_VARIABLE, raising=False)
    with pytest.raises(VimwatchError, match="VIMWATCH_TRANSPORT_URL"):
        mistral_runtime.process_runtime()
    monkeypatch.setenv(mistral_runtime.TRANSPORT_URL_VARIABLE, broker[0])
    first = mistral_runtime.process_runtime()
    try:
        assert mistral_runtime.process_runtime() is first
        assert first.pid == os.getpid()
    finally:
        first.close()
