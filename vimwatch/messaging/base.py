"""The transport interface and the dispatch rule every transport shares.

Only the method names an endpoint lists in `methods` can be invoked through a transport,
so nothing else on an endpoint object is callable by whoever can reach the bus.
"""

from __future__ import annotations

import asyncio
import inspect
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import Any, Protocol


class Endpoint(Protocol):
    """What a transport dispatches to: an object naming the methods it exposes."""

    # Read-only, so an endpoint may declare the exact tuple of its own methods.
    @property
    def methods(self) -> tuple[str, ...]: ...


class MessagingError(Exception):
    """A call could not be delivered or answered in time."""


async def dispatch(endpoint: Endpoint, method: str, kwargs: dict[str, Any]) -> Any:
    """Invoke an exposed method; synchronous ones run in a thread so the loop never blocks."""
    if method not in endpoint.methods:
        raise MessagingError(f"method {method!r} is not exposed")
    function = getattr(endpoint, method)
    if inspect.iscoroutinefunction(function):
        return await function(**kwargs)
    return await asyncio.to_thread(function, **kwargs)


class Transport(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def serve(self, topic: str, endpoint: Endpoint) -> None:
        """Answer calls sent to `topic` (one server answers each call)."""

    @abstractmethod
    async def call(self, topic: str, method: str, *, timeout: float = 10.0, **kwargs: Any) -> Any:
        """Invoke `method` on a server of `topic` and return its result."""

    @abstractmethod
    async def cast(self, address: str, method: str, **kwargs: Any) -> None:
        """Send without waiting for a result to whichever process has bound `address`."""

    @abstractmethod
    async def bind(self, address: str, endpoint: Endpoint) -> None:
        """Receive casts sent to `address` (e.g. KILL_ACTION.<vim id>) in this process."""

    @abstractmethod
    async def unbind(self, address: str) -> None: ...


def run_from_thread(
    loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, Any], timeout: float = 30.0
) -> Any:
    """Let synchronous request handlers (in worker threads) use the loop's transport."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)
