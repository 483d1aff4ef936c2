"""Engine lease rounds: a burst of registrations shares one round."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vimwatch.messaging.inprocess import InProcessTransport
from vimwatch.monitor.engine import Engine
from vimwatch.registry.database import Registry, make_engine


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
