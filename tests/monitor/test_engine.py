"""Engine lease rounds: a burst of registrations shares one round."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import insert

from tests.rows import vim_row
from vimwatch.config import Settings
from vimwatch.messaging.inprocess import InProcessTransport
from vimwatch.monitor.engine import Engine
from vimwatch.registry import workflows as records
from vimwatch.registry.database import Registry, make_engine, migrate
from vimwatch.registry.models import Vim
from vimwatch.workflows.definition import monitor_input


async def test_a_burst_of_wakes_is_served_by_a_few_rounds_not_one_each(tmp_path: Path) -> None:
    engine = Engine(
        Registry(make_engine(f"sqlite:///{tmp_path / 'unused.db'}")),
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


async def test_a_large_lease_round_lets_the_loop_run_while_it_starts_monitors(
    tmp_path: Path,
) -> None:
    """Starting 100,000 monitors takes seconds; probes due meanwhile must not wait for all."""
    registry = Registry(make_engine(f"sqlite:///{tmp_path / 'registry.db'}"))
    migrate(registry.engine)
    settings = Settings(state_dir=tmp_path, monitor_interval=3600, monitor_timeout=1)
    vim_ids = [f"vim-{n:04d}" for n in range(2500)]
    with registry.transaction() as session:
        session.execute(insert(Vim.__table__), [vim_row(vim_id) for vim_id in vim_ids])
        records.start_executions(
            session,
            [
                (vim_id, "p", "", monitor_input(vim_id, "http://127.0.0.1/", True, {}, settings))
                for vim_id in vim_ids
            ],
        )
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
        registry.engine.dispose()
    assert len(engine.running()) == 2500
    assert any(0 < count < 2500 for count in seen), sorted(seen)
