"""How the API stops: new requests refused, requests in flight finished or cleanly dropped.

When the server begins to stop (SIGTERM), requests that arrive are answered 503 at once.
Requests already taken run on for the grace period. Those the grace period cannot finish
are cancelled by the server; a cancelled request that has not started its answer gets a
503 here instead of the server's bare 500, and a write that already committed is never
cancelled at all (see `committed`): a 5xx therefore always means nothing was stored.
The lifespan waits for `idle` before it stops the engine and transport those requests use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vimwatch.api.errors import error_response
from vimwatch.registry.commit_gate import CommitGate

LOG = logging.getLogger(__name__)
T = TypeVar("T")
STOPPING = "vimwatch is shutting down: this request was not carried out; send it again"


class Drain:
    """The requests in flight, and whether the server still takes new ones."""

    def __init__(self) -> None:
        self.stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._on_stop: list[Callable[[], None]] = []

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the server begins to stop (e.g. end the event streams,
        which would otherwise hold the server for the whole grace period)."""
        self._on_stop.append(callback)

    def stop(self) -> None:
        self.stopping = True
        callbacks, self._on_stop = self._on_stop, []
        for callback in callbacks:
            callback()

    async def idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if some still are after `timeout`."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            LOG.warning("%d requests still in flight after %ss", self._in_flight, timeout)
            return False
        return True

    def _enter(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._in_flight -= 1
        if not self._in_flight:
            self._idle.set()


class Draining:
    """ASGI middleware: refuses requests once stopping, counts the others in and out."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.drain.stopping:
            await _unavailable(scope, receive, send)
            return
        started = False

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        self.drain._enter()
        try:
            await self.app(scope, receive, watching_send)
        except asyncio.CancelledError:
            # The grace period ran out. Anything that committed was not cancelled, so
            # nothing of this request is stored: say so, rather than the server's 500.
            if started:
                raise
            _current_task().uncancel()
            await _unavailable(scope, receive, send)
        finally:
            self.drain._leave()


async def _unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(Request(scope), 503, "ServiceUnavailable", STOPPING)
    response.headers["Connection"] = "close"
    await response(scope, receive, send)


async def committed(call: Callable[[], T]) -> T:
    """Run a write in a worker thread so that cancelling the request (a stopping server
    whose grace period ran out) either stops it before its commit or not at all.

    Before the commit, the request is abandoned: the thread will roll back, and the
    CancelledError goes on to `Draining`, which answers 503. After it, the cancellation is
    set aside and the request finishes and answers as if nothing had happened.
    """
    gate = CommitGate()
    worker = asyncio.ensure_future(run_in_threadpool(gate.run, call))
    # An abandoned worker still ends (in Abandoned, usually): its outcome is not wanted.
    worker.add_done_callback(lambda done: done.cancelled() or done.exception())
    while True:
        try:
            return await asyncio.shield(worker)
        except asyncio.CancelledError:
            if not worker.done() and gate.abandon():
                raise
            _current_task().uncancel()


def _current_task() -> asyncio.Task[Any]:
    """The task running this coroutine (there always is one inside a coroutine)."""
    task = asyncio.current_task()
    assert task is not None
    return task
