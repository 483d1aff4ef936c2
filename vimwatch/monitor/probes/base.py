"""What every probe kind promises the scheduler.

Probes are callback-based rather than awaitable: at many thousand probes a second a
coroutine or task per probe costs more than the probe itself, so `start` only arms the
probe and `report` is called back once with the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple, Protocol

from vimwatch.monitor.target import Target


class ProbeResult(NamedTuple):
    ok: bool
    rtt: float | None
    reason: str


Report = Callable[[ProbeResult], None]

TIMEOUT = ProbeResult(False, None, "timeout")
CLOSED = ProbeResult(False, None, "probe closed")


class ProbeUnavailable(Exception):
    """This kind of probe cannot work on this host, so the caller should pick another."""


class Probe(Protocol):
    kind: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def start(self, target: Target, address: str, timeout: float, report: Report) -> None:
        """Begin one probe of `address` (a resolved IP literal); call `report` exactly once,
        from the event loop, within ~timeout."""


def failure(exc: OSError) -> ProbeResult:
    """Short, lower-case reasons read well in logs and API output ("no route to host")."""
    if isinstance(exc, TimeoutError):
        return TIMEOUT
    return ProbeResult(False, None, describe(exc))


def describe(exc: OSError) -> str:
    # The errno's own text: asyncio rewrites strerror into "Connect call failed (...)".
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return (str(exc) or type(exc).__name__).lower()


# Connections a TCP or HTTP probe kind may have open at once, however many VIMs use it:
# past this, probes wait for a slot within their own timeout instead of exhausting
# file descriptors and memory.
MAX_IN_FLIGHT = 1024
