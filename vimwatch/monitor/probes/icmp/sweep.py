"""The timeout sweep: one loop timer per socket instead of a timer handle per probe.

A probe is looked at half its timeout after it was sent, when it is sent once more if
unanswered (see `Resend`), and reported as timed out at its full timeout. Looks are
rounded up to a grid, so that a steady stream of them costs at most 1 / GRID wakeups a
second and a burst of sends keeps one timer.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from time import monotonic

from vimwatch.monitor.probes.base import TIMEOUT, Launch
from vimwatch.monitor.probes.icmp.waiting import Answering, InFlight

# A timeout is reported at most this much late.
GRID = 0.005

# (timeout, key of the first echo, time it was sent, report): send the second echo.
Resend = Callable[[float, int, float, "Launch | Answering"], None]


class Sweep:
    __slots__ = ("_loop", "_in_flight", "_resend", "_handle", "_at")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, in_flight: InFlight, resend: Resend
    ) -> None:
        self._loop = loop
        self._in_flight = in_flight
        self._resend = resend
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0

    def look_by(self, due: float) -> None:
        """Have the sweep look at `due`: the armed sweep serves unless it is a whole grid
        step later."""
        if self._handle is None or due <= self._at - GRID:
            self._arm(due)

    def stop_if_idle(self) -> None:
        """Nothing can expire any more: leave no timer behind."""
        if self._handle is not None and not self._in_flight.anything():
            self.cancel()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        when = math.ceil(when / GRID) * GRID
        self._at = when
        # The loop's clock is time.monotonic, the one send times are read from.
        self._handle = self._loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._handle = None
        now = monotonic()
        upcoming: list[float] = []
        in_flight = self._in_flight
        for timeout, table in list(in_flight.waiting.items()):
            half = timeout / 2
            due = []
            for key, (sent, _) in table.items():
                if sent + half > now:
                    upcoming.append(sent + half)
                    break
                due.append(key)
            for key in due:
                sent, report = table.pop(key)
                self._resend(timeout, key, sent, report)
        for timeout, resends in list(in_flight.retried.items()):
            expired = []
            for key, entry in resends.items():
                if entry[3] > now:
                    upcoming.append(entry[3])
                    break
                expired.append(key)
            for key in expired:
                probe = resends.pop(key, None)
                if probe is None:
                    continue  # the probe's other echo expired just before
                if probe[2] is not None:
                    resends.pop(probe[2], None)
                probe[1](TIMEOUT)
            if not resends:
                # Keeps the common send path from looking here for sequences in use.
                del in_flight.retried[timeout]
        earliest = min(upcoming, default=None)
        # A report may have sent a new probe and armed a sweep meanwhile.
        if earliest is not None and (self._handle is None or earliest < self._at):
            self._arm(earliest)
