"""The embedded default's transport: calls and casts are function calls in one process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from vimwatch.messaging.base import Endpoint, MessagingError, Transport, dispatch

LOG = logging.getLogger(__name__)


class InProcessTransport(Transport):
    def __init__(self) -> None:
        self._servers: dict[str, Endpoint] = {}
        self._bindings: dict[str, Endpoint] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._servers.clear()
        self._bindings.clear()

    async def serve(self, topic: str, endpoint: Endpoint) -> None:
        self._servers[topic] = endpoint

    async def call(self, topic: str, method: str, *, timeout: float = 10.0, **kwargs: Any) -> Any:
        endpoint = self._servers.get(topic)
        if endpoint is None:
            raise MessagingError(f"no server for topic {topic!r}")
        try:
            # A timeout scope, not wait_for: wait_for wraps each call in a task of its own,
            # which was a third of the loop's work when ten thousand new VIMs reported in.
            async with asyncio.timeout(timeout):
                return await dispatch(endpoint, method, kwargs)
        except TimeoutError as exc:
            raise MessagingError(f"{topic}.{method} did not answer within {timeout}s") from exc

    async def cast(self, address: str, method: str, **kwargs: Any) -> None:
        endpoint = self._bindings.get(address)
        if endpoint is None:
            LOG.debug("cast %s to %s: nobody bound it", method, address)
            return
        try:
            await dispatch(endpoint, method, kwargs)
        except Exception:
            LOG.exception("cast %s to %s failed", method, address)

    async def bind(self, address: str, endpoint: Endpoint) -> None:
        self._bindings[address] = endpoint

    async def unbind(self, address: str) -> None:
        self._bindings.pop(address, None)

    def bound(self, address: str) -> bool:
        return address in self._bindings
