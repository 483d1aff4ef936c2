"""ICMP echo probes multiplexed over one socket per address family.

A subprocess or a socket per probe would cap the monitor at a few hundred probes a second;
one shared non-blocking socket read by the event loop and a dict of waiting probes keep a
probe down to a sendto, a dict insert and a dict pop. A probe is keyed by one int, its
address as a number and its sequence (`address << 16 | sequence`): a reply's key is then
two ints out of its header, where a key tuple of the address's text cost a string, a tuple
and their hashing per reply. A wheel slot's probes go out together (`start_many`), a
sendmmsg for up to _DRAIN_EVERY of them (see burst.py). Timeouts are swept, not timed one by
one: probes with the same timeout expire in the order they were sent, which is the order
of their dict (dicts keep insertion order), so one dict per timeout value and one loop
timer for the earliest expiry replace a timer handle per probe and hold nothing for a
probe once it is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import struct
from collections.abc import Sequence
from time import monotonic

from vimwatch.monitor.probes.base import (
    CLOSED,
    TIMEOUT,
    Launch,
    ProbeResult,
    ProbeUnavailable,
    Report,
    failure,
)
from vimwatch.monitor.probes.batch import STRIDE, open_batch_reader
from vimwatch.monitor.probes.burst import BurstSender, open_burst_sender
from vimwatch.monitor.target import Target

log = logging.getLogger(__name__)

_PAYLOAD = b"vimwatch"
_PACKET = struct.Struct(f"!BBHHH{len(_PAYLOAD)}s")
# An IPv4 echo reply as a raw socket reads it, when its IP header has no options: version
# and header length, source address, then the ICMP type, identifier and sequence.
_IPV4_REPLY = struct.Struct("!B11xI4xB3xHH")
# The same, read for every datagram of a batch in one pass over the reader's buffer.
_IPV4_REPLIES = struct.Struct(f"{_IPV4_REPLY.format}{STRIDE - _IPV4_REPLY.size}x")
_IPV4_PLAIN_HEADER = 0x45
# The ICMP type, identifier and sequence of a reply, wherever its header starts.
_ICMP_HEADER = struct.Struct("!B3xHH")
_ECHO_REQUEST = {socket.AF_INET: 8, socket.AF_INET6: 128}
_ECHO_REPLY = {socket.AF_INET: 0, socket.AF_INET6: 129}
_IPV4_ECHO_REPLY = _ECHO_REPLY[socket.AF_INET]
_PROTOCOL = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}

# Linux values that the socket module does not export.
_SOL_RAW = 255
_ICMP_FILTER = 1
_ICMP6_FILTER = 1
_SO_SNDBUFFORCE = 32
_SO_RCVBUFFORCE = 33
_IP_MTU_DISCOVER = 10
_IP_PMTUDISC_DO = 2

# Replies queue here whenever the loop is busy: 4 MB held about 100 ms of them at 60,000
# probes a second and dropped the rest; 32 MB rides out a stall of a quarter second at
# 100,000 a second, and costs memory only while it is full.
_BUFFER_BYTES = 32 << 20
_RECV_BYTES = 2048
# Packets handled per wakeup, so that a flood of replies cannot starve the timers.
_READ_BATCH = 1024
# Requests sent between two reads of the socket during a burst of sends.
_DRAIN_EVERY = 256
# Expiries are swept on this grid, so that a steady stream of them costs at most this
# many wakeups a second; a timeout is reported at most this much late.
_SWEEP_GRID = 0.005
_NO_SEQUENCE = ProbeResult(False, None, "too many probes in flight to this address")
_NO_SOCKET = ProbeResult(False, None, "no ICMP socket for this address family")

_Waiting = tuple[float, "Launch | _Answering"]
_Retried = tuple[float, "Launch | _Answering", "int | None", float]


class _Answering:
    """A plain report and its address, waiting beside the launches of batches: a reply
    calls `answered`, which only a launch has, so that the hot path builds no ProbeResult;
    a second echo goes to `address`, as a launch's does."""

    __slots__ = ("report", "address")

    def __init__(self, report: Report, address: str) -> None:
        self.report = report
        self.address = address

    def __call__(self, result: ProbeResult) -> None:
        self.report(result)

    def answered(self, rtt: float) -> None:
        self.report(ProbeResult(True, rtt, ""))


class IcmpProbe:
    """`privileged` picks a raw socket (needs CAP_NET_RAW) over an unprivileged ping
    socket (needs the group in net.ipv4.ping_group_range)."""

    kind = "icmp"

    def __init__(self, privileged: bool = True) -> None:
        self.privileged = privileged
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channels: dict[int, _Channel] = {}

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        # Random per instance: raw sockets see every echo reply on the host, including
        # those of other pingers (and of other instances in this process).
        ident = random.getrandbits(16)
        errors = []
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock = _open_socket(family, self.privileged)
            except OSError as exc:
                errors.append(f"{family.name}: {exc.strerror or exc}")
                continue
            self._channels[family] = _Channel(loop, sock, family, self.privileged, ident)
        if not self._channels:
            mode = "raw" if self.privileged else "ping"
            raise ProbeUnavailable(f"no ICMP {mode} socket: {'; '.join(errors)}")
        if errors:
            log.info("ICMP probing without %s", ", ".join(errors))
        self._loop = loop

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            channel.close()

    def start(self, target: Target, address: str, timeout: float, report: Report) -> None:
        channel = self._channels.get(socket.AF_INET6 if ":" in address else socket.AF_INET)
        if channel is None:
            self._loop.call_soon(report, _NO_SOCKET)
            return
        channel.send(address, timeout, report)

    def route(self, address: str) -> int | None:
        """An IPv4 literal as a number, for `start_many`: worked out once per VIM rather
        than once per probe. None for what `start` alone probes (IPv6, no IPv4 socket)."""
        if ":" in address or socket.AF_INET not in self._channels:
            return None
        try:
            return _number(socket.AF_INET, address)
        except OSError:
            return None

    def start_many(self, launches: Sequence[Launch]) -> None:
        """`start` for each launch, whose `route` this probe gave."""
        self._channels[socket.AF_INET].send_many(launches)


def _open_socket(family: socket.AddressFamily, privileged: bool) -> socket.socket:
    kind = socket.SOCK_RAW if privileged else socket.SOCK_DGRAM
    sock = socket.socket(family, kind, _PROTOCOL[family])
    try:
        sock.setblocking(False)
        _grow_buffers(sock)
        if privileged:
            _pass_only_echo_replies(sock, family)
            if family == socket.AF_INET:
                _forbid_fragmenting(sock)
    except OSError:
        sock.close()
        raise
    return sock


def _grow_buffers(sock: socket.socket) -> None:
    # Replies arrive in bursts when many probes share a tick; a reply dropped by a full
    # buffer would be counted as a lost probe.
    for forced, plain in ((_SO_SNDBUFFORCE, socket.SO_SNDBUF), (_SO_RCVBUFFORCE, socket.SO_RCVBUF)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, forced, _BUFFER_BYTES)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, plain, _BUFFER_BYTES)


def _forbid_fragmenting(sock: socket.socket) -> None:
    # With Don't Fragment set, Linux leaves the IP ID of an unconnected raw socket's packets
    # at zero instead of hashing one up per packet (__ip_select_ident, 3 % of a loaded
    # engine's CPU). An echo request is far below any MTU, so nothing else changes.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)


def _pass_only_echo_replies(sock: socket.socket, family: int) -> None:
    # A raw socket otherwise receives every ICMP packet of the host, our own echo requests
    # to loopback included; dropping them in the kernel saves a wakeup each. The reader
    # still checks the type, so a kernel without these filters only costs CPU.
    reply = _ECHO_REPLY[family]
    with contextlib.suppress(OSError):
        if family == socket.AF_INET:
            sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("=I", ~(1 << reply) & 0xFFFFFFFF))
        else:
            words = [0xFFFFFFFF] * 8
            words[reply >> 5] &= ~(1 << (reply & 31))
            sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("=8I", *words))


class _Channel:
    """One socket and the probes waiting on it, keyed by `address << 16 | sequence`."""

    __slots__ = (
        "_loop",
        "_sock",
        "_family",
        "_v6",
        "_request",
        "_reply",
        "_ident",
        "_check_ident",
        "_ip_header",
        "_partial_sum",
        "_reader",
        "_sender",
        "_seq",
        "_packets",
        "_waiting",
        "_retried",
        "_unread",
        "_sweep",
        "_sweep_at",
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
        self._v6 = family == socket.AF_INET6
        self._request = _ECHO_REQUEST[family]
        self._reply = _ECHO_REPLY[family]
        self._ident = ident
        # A ping socket's identifier is chosen by the kernel, which also delivers it only
        # the replies that carry it.
        self._check_ident = raw
        # Only IPv4 raw sockets hand over the IP header with the ICMP message.
        self._ip_header = raw and not self._v6
        header = _PACKET.pack(self._request, 0, 0, ident, 0, _PAYLOAD)
        self._partial_sum = sum(_words(header))
        self._seq = random.getrandbits(16)
        # Every request this channel can send, built once (3 MB): a probe then costs a
        # list index instead of packing and checksumming a packet.
        self._packets = [self._packet(seq) for seq in range(0x10000)]
        self._reader = open_batch_reader(sock) if self._ip_header else None
        self._sender: BurstSender | None = None
        if self._ip_header:
            self._sender = open_burst_sender(sock, self._packets)
        # Per timeout: key -> (time sent, launch) of each probe waiting for its reply,
        # oldest first.
        self._waiting: dict[float, dict[int, _Waiting]] = {}
        # Per timeout: both echoes of each probe sent twice, each naming the other,
        # oldest first: (time sent, report, the other echo's key, expiry of the probe).
        self._retried: dict[float, dict[int, _Retried]] = {}
        self._unread = 0
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_at = 0.0
        loop.add_reader(sock.fileno(), self._drain)

    def send(self, address: str, timeout: float, report: Report) -> None:
        try:
            number = _number(self._family, address)
        except OSError as exc:
            self._loop.call_soon(report, failure(exc))
            return
        table = self._waiting.get(timeout)
        if table is None:
            table = self._waiting[timeout] = {}
        key = number << 16 | (self._seq + 1) & 0xFFFF
        if key in table or (len(self._waiting) > 1 or self._retried) and self._is_waiting(key):
            key = self._free_key(number)
            if key is None:
                self._loop.call_soon(report, _NO_SEQUENCE)
                return
        self._seq = key & 0xFFFF
        try:
            self._sock.sendto(self._packets[key & 0xFFFF], (address, 0))
        except OSError as exc:
            # Reported from the loop, not from inside start(), so callers never re-enter.
            self._loop.call_soon(report, failure(exc))
            return
        now = monotonic()
        table[key] = (now, _Answering(report, address))
        # The first look at a probe is at half its timeout, when it may be sent again. The
        # armed sweep is rounded up to the grid, so a burst of sends keeps one timer: only
        # a look due a whole grid step before it needs an earlier one.
        due = now + timeout / 2
        if self._sweep is None or due <= self._sweep_at - _SWEEP_GRID:
            self._arm_sweep(due)
        self._unread += 1
        if self._unread >= _DRAIN_EVERY:
            # A loopback or LAN reply is queued before sendto returns: read replies while
            # a slot's burst is still going out, or the socket overflows and drops them.
            self._drain()

    def send_many(self, launches: Sequence[Launch]) -> None:
        """`send` for each launch, a burst of _DRAIN_EVERY probes a system call, each
        burst's replies read before the next goes out."""
        sender = self._sender
        if sender is None:
            for launch in launches:
                self.send(launch.address, launch.timeout, launch)
            return
        for start in range(0, len(launches), _DRAIN_EVERY):
            self._send_burst(sender, launches[start : start + _DRAIN_EVERY])

    def _send_burst(self, sender: BurstSender, launches: Sequence[Launch]) -> None:
        """One sendmmsg of consecutive sequences. Every probe of the burst is stamped with
        the time the call began: a round trip reads long by at most the call's own length,
        never short."""
        waiting = self._waiting
        sent = monotonic()
        seq = self._seq
        first = (seq + 1) & 0xFFFF
        numbers: list[int] = []
        taken: list[Launch] = []
        timeout = shortest = math.inf
        table: dict[int, _Waiting] = {}
        anywhere = False
        for launch in launches:
            if launch.timeout != timeout:
                timeout = launch.timeout
                table = waiting.get(timeout)
                if table is None:
                    table = waiting[timeout] = {}
                anywhere = len(waiting) > 1 or bool(self._retried)
                shortest = min(shortest, timeout)
            number = launch.route
            key = number << 16 | (seq + 1) & 0xFFFF
            if key in table or anywhere and self._is_waiting(key):
                # Its sequence is in use: it leaves singly, after the burst, on another.
                taken.append(launch)
                continue
            seq = key & 0xFFFF
            table[key] = (sent, launch)
            numbers.append(number)
        self._seq = seq
        for index, code in sender.send(first, numbers) if numbers else ():
            key = numbers[index] << 16 | (first + index) & 0xFFFF
            refused = _pop(list(waiting.values()), key)
            if refused is not None:
                # Reported from the loop, not from inside start_many: callers never re-enter.
                self._loop.call_soon(refused[1], failure(OSError(code, os.strerror(code))))
        if numbers:
            due = sent + shortest / 2
            if self._sweep is None or due <= self._sweep_at - _SWEEP_GRID:
                self._arm_sweep(due)
            # Loopback and LAN replies are queued by the time the call returns: read them
            # now, while the socket holds only this burst's. Not _drain, which would
            # cancel the sweep whenever every reply is in, for the next burst to arm it
            # again: 2.5 % of an engine's CPU (py-spy, 100k VIMs at 1 s). The sweep then
            # fires once, finding nothing, at half the timeout.
            self._read()
        for launch in taken:
            self.send(launch.address, launch.timeout, launch)

    def _free_key(self, number: int) -> int | None:
        seq = self._seq
        for _ in range(0x10000):
            seq = (seq + 1) & 0xFFFF
            if not self._is_waiting(number << 16 | seq):
                return number << 16 | seq
        return None

    def _is_waiting(self, key: int) -> bool:
        # Sequences wrap after 65,536 probes, which a busy engine sends in well under a
        # timeout: a VIM sharing another's address must not take a sequence still in use.
        return any(key in table for table in self._waiting.values()) or any(
            key in table for table in self._retried.values()
        )

    def _resend(self, timeout: float, first: int, sent: float, report: Launch | _Answering) -> None:
        """Half the timeout passed without a reply: send one more echo. Either reply ends
        the probe, so one lost packet no longer fails it; a host that is really gone still
        fails at the full timeout. (fping's retries; at 5 % loss a probe now fails 1 time
        in 400 rather than 1 in 20, and three in a row in 64 million rather than 8,000.)"""
        expiry = sent + timeout
        table = self._retried.get(timeout)
        if table is None:
            table = self._retried[timeout] = {}
        second = self._free_key(first >> 16)
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

    def _packet(self, seq: int) -> bytes:
        if self._v6:
            # The kernel computes ICMPv6 checksums: they cover a pseudo-header it owns.
            return _PACKET.pack(self._request, 0, 0, self._ident, seq, _PAYLOAD)
        total = self._partial_sum + seq
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        return _PACKET.pack(self._request, 0, ~total & 0xFFFF, self._ident, seq, _PAYLOAD)

    def _drain(self) -> None:
        """The loop's reader: replies, then the sweep timer off if nothing is left."""
        self._read()
        if self._sweep is not None and not self._anything_waiting():
            # Nothing can expire any more: leave no timer behind.
            self._sweep.cancel()
            self._sweep = None

    def _read(self) -> None:
        self._unread = 0
        tables = list(self._waiting.values())
        if self._ip_header:
            self._read_ipv4(tables)
        else:
            self._read_from(tables)

    def _read_ipv4(self, tables: list[dict[int, _Waiting]]) -> None:
        """A raw IPv4 socket hands over the IP header, which names the source: replies are
        read a burst per system call into one buffer, where recvfrom would make a call,
        a bytes and an address tuple of each (3.6 -> 2.4 µs per reply, kernel included,
        in a drain of 1,000 loopback replies)."""
        reader = self._reader
        view = reader.view
        replies = _IPV4_REPLIES.iter_unpack
        ident = self._ident
        only = tables[0] if len(tables) == 1 else None
        for _ in range(_READ_BATCH // reader.batch):
            try:
                got = reader.read()
            except OSError:
                # A queued ICMP error (e.g. host unreachable); it names no single probe,
                # whose own expiry will report it.
                continue
            answered = []
            start = -STRIDE
            # sizes() also has stale sizes past the datagrams read: zip stops at those.
            for (header, source, kind, reply_ident, seq), size in zip(
                replies(view[: got * STRIDE]), reader.sizes(), strict=False
            ):
                start += STRIDE
                if size < _IPV4_REPLY.size:
                    continue
                if header != _IPV4_PLAIN_HEADER:
                    # Options lengthen the IP header: its length is in its low four bits.
                    at = (header & 0x0F) << 2
                    if size < at + 8:
                        continue
                    kind, reply_ident, seq = _ICMP_HEADER.unpack_from(view, start + at)
                if kind == _IPV4_ECHO_REPLY and reply_ident == ident:
                    answered.append(source << 16 | seq)
            # Matched once the whole batch is parsed: a report may send probes, and a send
            # may read the socket again, into this same buffer. The batch was read at one
            # time, which every round trip of it is measured to.
            now = monotonic()
            for key in answered:
                waiting = only.pop(key, None) if only is not None else _pop(tables, key)
                if waiting is not None:
                    waiting[1].answered(now - waiting[0])
                elif self._retried:
                    self._answer_retried(key)
            if got < reader.batch:
                # Fewer than a batch: the queue is empty.
                break

    def _read_from(self, tables: list[dict[int, _Waiting]]) -> None:
        """IPv6 and ping sockets hand over the ICMP message alone: the source comes from
        recvfrom."""
        recvfrom = self._sock.recvfrom
        reply_type = self._reply
        check_ident = self._check_ident
        ident = self._ident
        family = self._family
        only = tables[0] if len(tables) == 1 else None
        for _ in range(_READ_BATCH):
            try:
                data, source = recvfrom(_RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue
            if len(data) < 8 or data[0] != reply_type:
                continue
            if check_ident and (data[4] << 8 | data[5]) != ident:
                continue
            key = _number(family, source[0]) << 16 | data[6] << 8 | data[7]
            waiting = only.pop(key, None) if only is not None else _pop(tables, key)
            if waiting is not None:
                waiting[1].answered(monotonic() - waiting[0])
            elif self._retried:
                self._answer_retried(key)

    def _arm_sweep(self, when: float) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
        when = math.ceil(when / _SWEEP_GRID) * _SWEEP_GRID
        self._sweep_at = when
        # The loop's clock is time.monotonic, the one send times are read from.
        self._sweep = self._loop.call_at(when, self._expire)

    def _answer_retried(self, key: int) -> None:
        for table in self._retried.values():
            entry = table.pop(key, None)
            if entry is not None:
                if entry[2] is not None:
                    table.pop(entry[2], None)
                entry[1].answered(monotonic() - entry[0])
                return

    def _anything_waiting(self) -> bool:
        return any(self._waiting.values()) or any(self._retried.values())

    def _expire(self) -> None:
        self._sweep = None
        now = monotonic()
        upcoming: list[float] = []
        for timeout, table in list(self._waiting.items()):
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
        for timeout, table in list(self._retried.items()):
            expired = []
            for key, entry in table.items():
                if entry[3] > now:
                    upcoming.append(entry[3])
                    break
                expired.append(key)
            for key in expired:
                entry = table.pop(key, None)
                if entry is None:
                    continue  # the probe's other echo expired just before
                if entry[2] is not None:
                    table.pop(entry[2], None)
                entry[1](TIMEOUT)
            if not table:
                # Keeps the common send path from looking here for sequences in use.
                del self._retried[timeout]
        earliest = min(upcoming, default=None)
        # A report may have sent a new probe and armed a sweep meanwhile.
        if earliest is not None and (self._sweep is None or earliest < self._sweep_at):
            self._arm_sweep(earliest)

    def close(self) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        tables, self._waiting = self._waiting, {}
        for table in tables.values():
            for _, report in table.values():
                report(CLOSED)
        retried, self._retried = self._retried, {}
        for table in retried.values():
            for key in list(table):
                entry = table.pop(key, None)
                if entry is not None:
                    if entry[2] is not None:
                        table.pop(entry[2], None)
                    entry[1](CLOSED)


def _pop(tables: list[dict[int, _Waiting]], key: int) -> _Waiting | None:
    for table in tables:
        waiting = table.pop(key, None)
        if waiting is not None:
            return waiting
    return None


def _words(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"!{len(data) // 2}H", data)


def _number(family: int, address: str) -> int:
    """An address as one int, however it is spelled ("::1" or "0:0:0:0:0:0:0:1"); a
    scope ("fe80::1%eth0") is left out, as replies to either scope carry the same."""
    return int.from_bytes(socket.inet_pton(family, address.partition("%")[0]), "big")
