"""How late the engine's event loop runs: the one number that says probes are on time.

Every monitor shares one loop, so anything that blocks it delays every probe. A task
sleeps a fixed period and records how much longer than that it actually slept.
"""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import Histogram

PERIOD = 0.25


class LoopLag:
    def __init__(self) -> None:
        self.histogram = Histogram(
            "vimwatch_engine_loop_lag_seconds",
            "How much later than asked the engine's event loop woke up a sleeping task",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=None,
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._measure())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + PERIOD
            await asyncio.sleep(PERIOD)
            self.histogram.observe(max(0.0, loop.time() - asked))
