"""Opening an ICMP socket: raw (CAP_NET_RAW) or ping (net.ipv4.ping_group_range), with the
options that keep a busy prober's replies from being dropped or costing wakeups."""

from __future__ import annotations

import contextlib
import socket
import struct

from vimwatch.monitor.probes.icmp.packets import ECHO_REPLY, PROTOCOL

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


def open_socket(family: socket.AddressFamily, privileged: bool) -> socket.socket:
    kind = socket.SOCK_RAW if privileged else socket.SOCK_DGRAM
    sock = socket.socket(family, kind, PROTOCOL[family])
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
    reply = ECHO_REPLY[family]
    with contextlib.suppress(OSError):
        if family == socket.AF_INET:
            sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("=I", ~(1 << reply) & 0xFFFFFFFF))
        else:
            words = [0xFFFFFFFF] * 8
            words[reply >> 5] &= ~(1 << (reply & 31))
            sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("=8I", *words))
