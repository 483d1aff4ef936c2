"""The one way tests wait for something that happens elsewhere (a process, a broker, a loop).

Tests wait on the condition itself, never on a sleep: a busy machine only makes them slower.
Each timeout is an upper bound on how long the condition may take, not a measurement.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.1, detail: str = ""
) -> T:
    """Poll `predicate` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s{detail}")
        time.sleep(interval)


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 20.0, interval: float = 0.2
) -> None:
    """The same inside an event loop: `check` (plain or async) is polled without blocking it."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            name = getattr(check, "__name__", "condition")
            raise AssertionError(f"still not true after {timeout}s: {name}")
        await asyncio.sleep(interval)
