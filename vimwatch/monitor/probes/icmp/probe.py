"""The ICMP probe kind: one channel (socket) per address family, shared by every probe."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Sequence

from vimwatch.monitor.probes.base import Launch, ProbeResult, ProbeUnavailable, Report
from vimwatch.monitor.probes.icmp.channel import Channel
from vimwatch.monitor.probes.icmp.packets import address_number
from vimwatch.monitor.probes.icmp.sockets import open_socket
from vimwatch.monitor.target import Target

log = logging.getLogger(__name__)

_NO_SOCKET = ProbeResult(False, None, "no ICMP socket for this address family")


class IcmpProbe:
    """`privileged` picks a raw socket (needs CAP_NET_RAW) over an unprivileged ping
    socket (needs the group in net.ipv4.ping_group_range)."""

    kind = "icmp"

    def __init__(self, privileged: bool = True) -> None:
        self.privileged = privileged
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channels: dict[int, Channel] = {}

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        # Random per instance: raw sockets see every echo reply on the host, including
        # those of other pingers (and of other instances in this process).
        ident = random.getrandbits(16)
        errors = []
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock = open_socket(family, self.privileged)
            except OSError as exc:
                errors.append(f"{family.name}: {exc.strerror or exc}")
                continue
            self._channels[family] = Channel(loop, sock, family, self.privileged, ident)
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
            assert self._loop is not None, "start() before open()"
            self._loop.call_soon(report, _NO_SOCKET)
            return
        channel.send(address, timeout, report)

    def route(self, address: str) -> int | None:
        """An IPv4 literal as a number, for `start_many`: worked out once per VIM rather
        than once per probe. None for what `start` alone probes (IPv6, no IPv4 socket)."""
        if ":" in address or socket.AF_INET not in self._channels:
            return None
        try:
            return address_number(socket.AF_INET, address)
        except OSError:
            return None

    def start_many(self, launches: Sequence[Launch]) -> None:
        """`start` for each launch, whose `route` this probe gave."""
        self._channels[socket.AF_INET].send_many(launches)
