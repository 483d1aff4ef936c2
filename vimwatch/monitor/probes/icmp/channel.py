"""One ICMP socket and the sending side of its probes: a probe is a sendto, a dict insert
and a dict pop.

A subprocess or a socket per probe would cap the monitor at a few hundred probes a second;
one shared non-blocking socket read by the event loop keeps a probe that cheap. A probe is
keyed by one int, its address as a number and its sequence (`address << 16 | sequence`): a
reply's key is then two ints out of its header, where a key tuple of the address's text
cost a string, a tuple and their hashing per reply. A wheel slot's probes go out together
(`send_many`), a sendmmsg for up to DRAIN_EVERY of them (burst.py). Replies are read by
replies.py, timeouts swept by sweep.py, and the probes in flight kept by waiting.py.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import socket
from collections.abc import Sequence
from time import monotonic

from vimwatch.monitor.probes.base import CLOSED, Launch, ProbeResult, Report, failure
from vimwatch.monitor.probes.icmp.batch import open_batch_reader
from vimwatch.monitor.probes.icmp.burst import BurstSender, open_burst_sender
from vimwatch.monitor.probes.icmp.packets import ECHO_REPLY, address_number, echo_requests
from vimwatch.monitor.probes.icmp.replies import read_from, read_ipv4
from vimwatch.monitor.probes.icmp.sweep import Sweep
from vimwatch.monitor.probes.icmp.waiting import Answering, InFlight, Waiting, pop

# Requests sent between two reads of the socket during a burst of sends.
DRAIN_EVERY = 256
_NO_SEQUENCE = ProbeResult(False, None, "too many probes in flight to this address")


class Channel:
    """One socket and the probes waiting on it, keyed by `address << 16 | sequence`."""

    __slots__ = (
        "_loop",
        "_sock",
        "_family",
        "_reply",
        "_ident",
        "_reply_ident",
        "_reader",
        "_sender",
        "_seq",
        "_packets",
        "_in_flight",
        "_unread",
        "_sweep",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        family: int,
        raw: bool,
        ident: int,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._family = family
        self._reply = ECHO_REPLY[family]
        self._ident = ident
        # A ping socket's identifier is chosen by the kernel, which also delivers it only
        # the replies that carry it: nothing to check (None).
        self._reply_ident = ident if raw else None
        self._seq = random.getrandbits(16)
        self._packets = echo_requests(family, ident)
        # Only IPv4 raw sockets hand over the IP header with the ICMP message.
        ip_header = raw and family != socket.AF_INET6
        self._reader = open_batch_reader(sock) if ip_header else None
        self._sender: BurstSender | None = None
        if ip_header:
            self._sender = open_burst_sender(sock, self._packets)
        self._in_flight = InFlight()
        self._unread = 0
        self._sweep = Sweep(loop, self._in_flight, self._resend)
        loop.add_reader(sock.fileno(), self._drain)

    def send(self, address: str, timeout: float, report: Report) -> None:
        try:
            number = address_number(self._family, address)
        except OSError as exc:
            self._loop.call_soon(report, failure(exc))
            return
        in_flight = self._in_flight
        waiting = in_flight.waiting
        table = waiting.get(timeout)
        if table is None:
            table = waiting[timeout] = {}
        key = number << 16 | (self._seq + 1) & 0xFFFF
        if key in table or (len(waiting) > 1 or in_flight.retried) and in_flight.is_waiting(key):
            free = in_flight.free_key(number, self._seq)
            if free is None:
                self._loop.call_soon(report, _NO_SEQUENCE)
                return
            key = free
        self._seq = key & 0xFFFF
        try:
            self._sock.sendto(self._packets[key & 0xFFFF], (address, 0))
        except OSError as exc:
            # Reported from the loop, not from inside start(), so callers never re-enter.
            self._loop.call_soon(report, failure(exc))
            return
        now = monotonic()
        table[key] = (now, Answering(report, address))
        # The first look at a probe is at half its timeout, when it may be sent again.
        self._sweep.look_by(now + timeout / 2)
        self._unread += 1
        if self._unread >= DRAIN_EVERY:
            # A loopback or LAN reply is queued before sendto returns: read replies while
            # a slot's burst is still going out, or the socket overflows and drops them.
            self._drain()

    def send_many(self, launches: Sequence[Launch]) -> None:
        """`send` for each launch, a burst of DRAIN_EVERY probes a system call, each
        burst's replies read before the next goes out."""
        sender = self._sender
        if sender is None:
            for launch in launches:
                self.send(launch.address, launch.timeout, launch)
            return
        for start in range(0, len(launches), DRAIN_EVERY):
            self._send_burst(sender, launches[start : start + DRAIN_EVERY])

    def _send_burst(self, sender: BurstSender, launches: Sequence[Launch]) -> None:
        """One sendmmsg of consecutive sequences. Every probe of the burst is stamped with
        the time the call began: a round trip reads long by at most the call's own length,
        never short."""
        in_flight = self._in_flight
        waiting = in_flight.waiting
        sent = monotonic()
        seq = self._seq
        first = (seq + 1) & 0xFFFF
        numbers: list[int] = []
        taken: list[Launch] = []
        timeout = shortest = math.inf
        table: dict[int, Waiting] = {}
        anywhere = False
        for launch in launches:
            if launch.timeout != timeout:
                timeout = launch.timeout
                table = waiting.setdefault(timeout, {})
                anywhere = len(waiting) > 1 or bool(in_flight.retried)
                shortest = min(shortest, timeout)
            number = launch.route
            key = number << 16 | (seq + 1) & 0xFFFF
            if key in table or anywhere and in_flight.is_waiting(key):
                # Its sequence is in use: it leaves singly, after the burst, on another.
                taken.append(launch)
                continue
            seq = key & 0xFFFF
            table[key] = (sent, launch)
            numbers.append(number)
        self._seq = seq
        for index, code in sender.send(first, numbers) if numbers else ():
            key = numbers[index] << 16 | (first + index) & 0xFFFF
            refused = pop(list(waiting.values()), key)
            if refused is not None:
                # Reported from the loop, not from inside start_many: callers never re-enter.
                self._loop.call_soon(refused[1], failure(OSError(code, os.strerror(code))))
        if numbers:
            self._sweep.look_by(sent + shortest / 2)
            # Loopback and LAN replies are queued by the time the call returns: read them
            # now, while the socket holds only this burst's. Not _drain, which would
            # cancel the sweep whenever every reply is in, for the next burst to arm it
            # again: 2.5 % of an engine's CPU (py-spy, 100k VIMs at 1 s). The sweep then
            # fires once, finding nothing, at half the timeout.
            self._read()
        for launch in taken:
            self.send(launch.address, launch.timeout, launch)

    def _resend(self, timeout: float, first: int, sent: float, report: Launch | Answering) -> None:
        """Half the timeout passed without a reply: send one more echo. Either reply ends
        the probe, so one lost packet no longer fails it; a host that is really gone still
        fails at the full timeout. (fping's retries; at 5 % loss a probe now fails 1 time
        in 400 rather than 1 in 20, and three in a row in 64 million rather than 8,000.)"""
        expiry = sent + timeout
        retried = self._in_flight.retried
        table = retried.get(timeout)
        if table is None:
            table = retried[timeout] = {}
        second = self._in_flight.free_key(first >> 16, self._seq)
        if second is not None:
            try:
                # As the caller spelled it, which sendto already took for the first echo.
                self._sock.sendto(self._packets[second & 0xFFFF], (report.address, 0))
                self._seq = second & 0xFFFF
            except OSError:
                second = None
        table[first] = (sent, report, second, expiry)
        if second is not None:
            table[second] = (monotonic(), report, first, expiry)

    def _drain(self) -> None:
        """The loop's reader: replies, then the sweep timer off if nothing is left."""
        self._read()
        self._sweep.stop_if_idle()

    def _read(self) -> None:
        self._unread = 0
        if self._reader is not None:
            read_ipv4(self._reader, self._ident, self._in_flight)
        else:
            read_from(self._sock, self._family, self._reply, self._reply_ident, self._in_flight)

    def close(self) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sweep.cancel()
        self._in_flight.end_all(CLOSED)
