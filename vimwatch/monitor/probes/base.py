"""What every probe kind promises the scheduler.

Probes are callback-based rather than awaitable: at many thousand probes a second a
coroutine or task per probe costs more than the probe itself, so `start` only arms the
probe and `report` is called back once with the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
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


class Launch(Protocol):
    """One probe of a batch: the caller's own record of what to probe, called back as the
    report, so that a batch of many probes allocates nothing per probe to describe them."""

    address: str
    # The probe's `route(address)`, kept by the caller: worked out once, not per probe.
    route: int
    timeout: float

    def __call__(self, result: ProbeResult) -> None: ...

    def answered(self, rtt: float) -> None:
        """The report of a reply: as if called with ProbeResult(True, rtt, ""), which a
        probe then need not build (the bulk of the reports, at 100,000 a second)."""


class BatchProbe(Probe, Protocol):
    """A probe kind that can send many probes at once, cheaper than one `start` each."""

    def route(self, address: str) -> int | None:
        """What `start_many` needs of `address`, or None if it must go through `start`."""

    def start_many(self, launches: Sequence[Launch]) -> None:
        """`start` for each launch. Replies already queued when the sends return may be
        reported before this returns (loopback answers inside the send); a probe that
        could not be sent is reported later, from the loop, as by `start`."""


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
