"""A request's say over whether its transaction may still commit.

A stopping server gives up on the requests its grace period could not finish. One whose
write already committed must still be answered, or its client takes a stored write for a
failed one; one whose write has not committed must never commit after its client was told
it failed. The gate makes that one decision, under a lock, between the worker thread about
to COMMIT and the server giving up: whichever comes first wins.

`Registry.transaction` passes the gate of the running request (a context variable, so the
services need not carry it) just before each commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from vimwatch.errors import ServiceUnavailable

T = TypeVar("T")
_GATE: ContextVar[CommitGate | None] = ContextVar("commit_gate", default=None)


class Abandoned(ServiceUnavailable):
    """The server gave up on this request before it stored anything."""


class CommitGate:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._committing = False

    def check(self) -> None:
        """Raise Abandoned if the server has given up on the request."""
        with self._lock:
            if self._abandoned:
                raise Abandoned("the server gave up on this request; nothing was stored")

    def enter_commit(self) -> None:
        """Called just before COMMIT: from here on the request cannot be abandoned."""
        with self._lock:
            if self._abandoned:
                raise Abandoned("the server gave up on this request; nothing was stored")
            self._committing = True

    def abandon(self) -> bool:
        """True if nothing of the request will commit; False if a commit has begun, in
        which case the request must be let finish and answer."""
        with self._lock:
            if self._committing:
                return False
            self._abandoned = True
            return True

    def run(self, call: Callable[[], T]) -> T:
        """Run `call` (in a worker thread) with this gate guarding its commits."""
        token = _GATE.set(self)
        try:
            self.check()
            return call()
        finally:
            _GATE.reset(token)


def before_commit() -> None:
    """The transaction's last step: refuse to commit for a request that was given up on."""
    gate = _GATE.get()
    if gate is not None:
        gate.enter_commit()
