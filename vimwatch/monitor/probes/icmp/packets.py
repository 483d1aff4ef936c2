"""What ICMP echo requests and replies look like on the wire, for both address families."""

from __future__ import annotations

import socket
import struct

from vimwatch.monitor.probes.icmp.batch import STRIDE

PAYLOAD = b"vimwatch"
PACKET = struct.Struct(f"!BBHHH{len(PAYLOAD)}s")
# An IPv4 echo reply as a raw socket reads it, when its IP header has no options: version
# and header length, source address, then the ICMP type, identifier and sequence.
IPV4_REPLY = struct.Struct("!B11xI4xB3xHH")
# The same, read for every datagram of a batch in one pass over the reader's buffer.
IPV4_REPLIES = struct.Struct(f"{IPV4_REPLY.format}{STRIDE - IPV4_REPLY.size}x")
IPV4_PLAIN_HEADER = 0x45
# The ICMP type, identifier and sequence of a reply, wherever its header starts.
ICMP_HEADER = struct.Struct("!B3xHH")
ECHO_REQUEST: dict[int, int] = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
IPV4_ECHO_REPLY = ECHO_REPLY[socket.AF_INET]
PROTOCOL = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}


def echo_requests(family: int, ident: int) -> list[bytes]:
    """Every request a channel can send, one per sequence, built once (3 MB): a probe then
    costs a list index instead of packing and checksumming a packet."""
    request = ECHO_REQUEST[family]
    if family == socket.AF_INET6:
        # The kernel computes ICMPv6 checksums: they cover a pseudo-header it owns.
        return [PACKET.pack(request, 0, 0, ident, seq, PAYLOAD) for seq in range(0x10000)]
    partial_sum = sum(_words(PACKET.pack(request, 0, 0, ident, 0, PAYLOAD)))
    packets = []
    for seq in range(0x10000):
        total = partial_sum + seq
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        packets.append(PACKET.pack(request, 0, ~total & 0xFFFF, ident, seq, PAYLOAD))
    return packets


def address_number(family: int, address: str) -> int:
    """An address as one int, however it is spelled ("::1" or "0:0:0:0:0:0:0:1"); a
    scope ("fe80::1%eth0") is left out, as replies to either scope carry the same."""
    return int.from_bytes(socket.inet_pton(family, address.partition("%")[0]), "big")


def _words(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"!{len(data) // 2}H", data)
