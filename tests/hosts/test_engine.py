"""Engine lease rounds: a burst of registrations shares one round; kills end only the
execution they name; the audit gives a live VIM that lost its execution a new one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from tests.rows import vim_row
from vimwatch.config import Settings
from vimwatch.contract import ERROR, RUNNING, SUCCESS, kill_address
from vimwatch.hosts.engine import Engine
from vimwatch.messaging.inprocess import InProcessTransport
from vimwatch.metrics.collectors import metrics_registry
from vimwatch.registry import workflows as records
from vimwatch.registry.database import Registry, make_db_engine, migrate
from vimwatch.registry.models import Execution, Task, Vim
from vimwatch.workflows.audit import MonitorAudit
from vimwatch.workflows.definition import monitor_input


async def test_a_burst_of_wakes_is_served_by_a_few_rounds_not_one_each(tmp_path: Path) -> None:
    engine = Engine(
        Registry(make_db_engine(f"sqlite:///{tmp_path / 'unused.db'}")),
        InProcessTransport(),
        engine_id="engine-a",
        lease_ttl=60.0,
    )
    rounds = 0

    async def counted_round() -> None:
        nonlocal rounds
        rounds += 1

    engine.lease_round = counted_round
    loop = asyncio.create_task(engine._lease_rounds())
    try:
        for _ in range(20):
            engine.wake()
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)
    finally:
        loop.cancel()
    assert 1 <= rounds <= 4


def add_monitored(registry: Registry, settings: Settings, vim_ids: list[str]) -> None:
    """Registered VIMs with a running execution each, as a registration leaves them."""
    with registry.transaction() as session:
        session.execute(insert(Vim.__table__), [vim_row(vim_id) for vim_id in vim_ids])
        records.start_executions(
            session,
            [
                (vim_id, "p", "", monitor_input(vim_id, "http://127.0.0.1/", True, {}, settings))
                for vim_id in vim_ids
            ],
        )


async def test_a_large_lease_round_lets_the_loop_run_while_it_starts_monitors(
    tmp_path: Path,
) -> None:
    """Starting 100,000 monitors takes seconds; probes due meanwhile must not wait for all."""
    registry = Registry(make_db_engine(f"sqlite:///{tmp_path / 'registry.db'}"))
    migrate(registry.db_engine)
    settings = Settings(state_dir=tmp_path, monitor_interval=3600, monitor_timeout=1)
    add_monitored(registry, settings, [f"vim-{n:04d}" for n in range(2500)])
    engine = Engine(registry, InProcessTransport(), engine_id="engine-a", lease_ttl=60.0)
    await engine.scheduler.start()
    seen: set[int] = set()

    async def watch() -> None:
        while True:
            seen.add(len(engine.scheduler))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        await engine.lease_round()
    finally:
        watcher.cancel()
        await engine.scheduler.close()
        registry.db_engine.dispose()
    assert len(engine.running()) == 2500
    assert any(0 < count < 2500 for count in seen), sorted(seen)


# --- kills name their execution ----------------------------------------------------------


def restart_execution(registry: Registry, settings: Settings, vim_id: str) -> str:
    """What an update of the VIM's monitor settings does to its records: the execution is
    deleted and a new one started. Returns the new execution's id."""
    with registry.transaction() as session:
        records.delete_records(session, vim_id)
    return start_execution(registry, settings, vim_id)


def start_execution(registry: Registry, settings: Settings, vim_id: str) -> str:
    task_input = monitor_input(vim_id, "http://127.0.0.1/", True, {}, settings)
    with registry.transaction() as session:
        assert records.start_unless_running(
            session, vim_id=vim_id, project_id="p", definition="", task_input=task_input
        )
        (execution_id,) = records.running_execution_ids(session, vim_id)
    return execution_id


def execution_states(registry: Registry, vim_id: str) -> dict[str, str]:
    with registry.reading() as session:
        rows = session.execute(
            select(Execution.id, Execution.state).where(Execution.vim_id == vim_id)
        )
        return dict(rows.all())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, monitor_interval=3600, monitor_timeout=1)


@pytest.fixture
async def engines(
    registry: Registry, settings: Settings
) -> AsyncIterator[Callable[[str], Awaitable[Engine]]]:
    """Started engines, each on a transport of its own as engine processes are; the test
    runs their lease rounds itself (none run on their own)."""
    started: list[Engine] = []

    async def start(engine_id: str) -> Engine:
        engine = Engine(
            registry,
            InProcessTransport(),
            engine_id=engine_id,
            lease_ttl=60.0,
            audit=MonitorAudit(registry, settings),
        )
        await engine.scheduler.start()
        started.append(engine)
        return engine

    yield start
    for engine in started:
        await engine.scheduler.close()


@pytest.fixture
async def engine(engines: Callable[[str], Awaitable[Engine]]) -> Engine:
    return await engines("engine-a")


async def kill(engine: Engine, vim_id: str, **arguments: str) -> None:
    """A killAction cast as the broker delivers it to an engine that bound the VIM."""
    await engine._transport.cast(kill_address(vim_id), "killAction", **arguments)


async def test_a_late_kill_of_a_vims_previous_execution_leaves_the_new_monitor_running(
    registry: Registry, settings: Settings, engines: Callable[[str], Awaitable[Engine]]
) -> None:
    add_monitored(registry, settings, ["v"])
    first = await engines("engine-a")
    await first.lease_round()
    (old,) = execution_states(registry, "v")
    assert first.execution_of("v") == old

    # The VIM's monitor settings change: its execution is replaced, and the new one is
    # claimed by another engine before the kill of the old one has reached either.
    new = restart_execution(registry, settings, "v")
    second = await engines("engine-b")
    await second.lease_round()
    assert second.execution_of("v") == new
    for engine in (first, second):
        await kill(engine, "v", execution_id=old)

    assert first.running() == set()
    assert second.execution_of("v") == new
    assert second.scheduler.spec_of("v") is not None
    assert execution_states(registry, "v") == {new: RUNNING}

    await kill(second, "v", execution_id=new)
    assert second.running() == set()
    assert second.scheduler.spec_of("v") is None
    assert execution_states(registry, "v") == {new: SUCCESS}


async def test_a_kill_naming_no_execution_ends_the_monitor_running_as_tacker_sent_it(
    registry: Registry, settings: Settings, engine: Engine
) -> None:
    add_monitored(registry, settings, ["v", "w"])
    await engine.lease_round()
    await kill(engine, "v")
    assert engine.running() == {"w"}
    assert set(execution_states(registry, "v").values()) == {SUCCESS}
    assert set(execution_states(registry, "w").values()) == {RUNNING}


# --- the audit ---------------------------------------------------------------------------


def repairs_on_metrics() -> float:
    """vimwatch_monitor_repairs_total as /metrics serves it."""
    return metrics_registry(None, False).get_sample_value("vimwatch_monitor_repairs_total")


async def rounds_until(engine: Engine, condition, rounds: int = 5) -> int:  # noqa: ANN001
    """Run lease rounds until `condition()` holds; returns how many it took."""
    for done in range(1, rounds + 1):
        await engine.lease_round()
        if condition():
            return done
    raise AssertionError(f"not met within {rounds} lease rounds")


@pytest.mark.parametrize("behind_the_back", ["ended", "deleted"])
async def test_a_vim_whose_execution_goes_behind_the_engines_back_gets_a_new_one_running(
    registry: Registry, settings: Settings, engine: Engine, behind_the_back: str
) -> None:
    add_monitored(registry, settings, ["v", "w"])
    await engine.lease_round()
    (lost,) = execution_states(registry, "v")
    repairs = repairs_on_metrics()
    with registry.transaction() as session:
        lost_execution = select(Execution.id).where(Execution.vim_id == "v")
        if behind_the_back == "ended":
            session.execute(update(Execution).where(Execution.vim_id == "v").values(state=ERROR))
        else:
            session.execute(delete(Task).where(Task.execution_id.in_(lost_execution)))
            session.execute(delete(Execution).where(Execution.vim_id == "v"))

    def repaired() -> bool:
        running = [e for e, state in execution_states(registry, "v").items() if state == "RUNNING"]
        return len(running) == 1 and engine.execution_of("v") == running[0] != lost

    # One round sees the shortfall, the next confirms and repairs, the woken one claims.
    await rounds_until(engine, repaired)
    assert engine.running() == {"v", "w"}
    assert engine.scheduler.spec_of("v") is not None
    assert repairs_on_metrics() == repairs + 1


async def test_the_audit_leaves_a_fleet_without_losses_alone(
    registry: Registry, settings: Settings, engine: Engine
) -> None:
    add_monitored(registry, settings, [f"v{n}" for n in range(20)])
    repairs = repairs_on_metrics()
    for _ in range(4):
        await engine.lease_round()
    assert len(engine.running()) == 20
    assert repairs_on_metrics() == repairs


async def test_a_vim_between_two_executions_for_one_round_is_not_repaired(
    registry: Registry, settings: Settings, engine: Engine
) -> None:
    """An update ends one execution a moment before it starts the next: a shortfall seen
    by a single round is that moment, not a loss."""
    add_monitored(registry, settings, ["v"])
    await engine.lease_round()
    repairs = repairs_on_metrics()
    with registry.transaction() as session:
        records.delete_records(session, "v")
    await engine.lease_round()
    new = start_execution(registry, settings, "v")
    await engine.lease_round()
    await engine.lease_round()
    assert repairs_on_metrics() == repairs
    assert execution_states(registry, "v") == {new: RUNNING}
