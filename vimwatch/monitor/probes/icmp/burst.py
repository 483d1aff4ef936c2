"""Sending a wheel slot's echo requests in a few system calls, through libc's sendmmsg.

A sendto per probe costs a system call and the socket module's parsing of an address
tuple, as much as the rest of the interpreter's work on a probe. Requests here are
sequence-numbered packets built once; one message header per sequence number is built
once too, naming that sequence's packet and a sockaddr_in of its own. Sending a run of
consecutive sequences then costs, per message, writing four address bytes into that
sockaddr, and one sendmmsg for the whole run.
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
from array import array
from collections.abc import Sequence

from vimwatch.monitor.probes.icmp.mmsg import Iovec, LibcCall, Mmsghdr, Msghdr, libc_call

SEQUENCES = 0x10000
_SOCKADDR_IN = struct.Struct("=HH4s8x")  # family (host order), port, address, padding
_ADDRESS = struct.Struct("!I")
_ADDRESS_OFFSET = 4
_RETRY = (errno.EINTR,)


class BurstSender:
    """Sends packet `seq` (of those given, one per sequence number, all one size) to many
    IPv4 addresses, a run of consecutive sequence numbers per call."""

    __slots__ = ("_sendmmsg", "_fd", "_packets", "_iovecs", "_names", "_messages", "_base")

    def __init__(self, sendmmsg: LibcCall, sock: socket.socket, packets: list[bytes]) -> None:
        self._sendmmsg = sendmmsg
        self._fd = sock.fileno()
        size = len(packets[0])
        self._packets = ctypes.create_string_buffer(b"".join(packets), SEQUENCES * size)
        empty = _SOCKADDR_IN.pack(socket.AF_INET, 0, bytes(4))
        self._names = ctypes.create_string_buffer(empty * SEQUENCES, SEQUENCES * len(empty))
        self._iovecs = _repeated(Iovec(None, size))
        _point(self._iovecs, Iovec.base.offset, ctypes.addressof(self._packets), size)
        message = Mmsghdr()
        message.header.namelen = len(empty)
        message.header.iovlen = 1
        self._messages = _repeated(message)
        header = Mmsghdr.header.offset
        _point(
            self._messages, header + Msghdr.name.offset, ctypes.addressof(self._names), len(empty)
        )
        iovecs_at = ctypes.addressof(self._iovecs)
        _point(self._messages, header + Msghdr.iov.offset, iovecs_at, ctypes.sizeof(Iovec))
        self._base = ctypes.addressof(self._messages)

    def send(self, first: int, addresses: Sequence[int]) -> list[tuple[int, int]]:
        """Send sequence `first + i` (modulo SEQUENCES) to `addresses[i]`, each an IPv4
        address as a number. Returns (i, errno) for each message the kernel refused; the
        others were sent."""
        names = self._names
        pack = _ADDRESS.pack_into
        seq = first
        for address in addresses:
            pack(names, seq << 4 | _ADDRESS_OFFSET, address)
            seq = (seq + 1) & 0xFFFF
        refused: list[tuple[int, int]] = []
        done = 0
        total = len(addresses)
        while done < total:
            seq = (first + done) & 0xFFFF
            # A run cannot wrap past the last header: it goes out in two calls.
            count = min(total - done, SEQUENCES - seq)
            sent = self._sendmmsg(self._fd, self._base + seq * ctypes.sizeof(Mmsghdr), count, 0)
            if sent > 0:
                done += sent
                continue
            code = ctypes.get_errno()
            if code in _RETRY:
                continue
            # The kernel stops at a refused message; the call's error is that message's.
            refused.append((done, code))
            done += 1
        return refused


def open_burst_sender(sock: socket.socket, packets: list[bytes]) -> BurstSender | None:
    """A burst sender for `sock`, or None where libc offers no sendmmsg."""
    sendmmsg = libc_call("sendmmsg", [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int])
    if sendmmsg is None:
        return None
    return BurstSender(sendmmsg, sock, packets)


def _repeated(structure: ctypes.Structure) -> ctypes.Array[ctypes.Structure]:
    return (type(structure) * SEQUENCES).from_buffer_copy(bytes(structure) * SEQUENCES)


def _point(structures: ctypes.Array[ctypes.Structure], offset: int, first: int, step: int) -> None:
    """Set the pointer at `offset` of structure i to `first + i * step`, for every i: one
    slice assignment over the array seen as pointer-sized words, where a ctypes attribute
    per structure takes a quarter second for 65,536 of them."""
    word = ctypes.sizeof(ctypes.c_void_p)
    words = memoryview(structures).cast("B").cast("Q" if word == 8 else "I")
    stride = ctypes.sizeof(structures) // len(structures) // word
    column = array(words.format, range(first, first + len(structures) * step, step))
    values = array(words.format, words)
    values[offset // word :: stride] = column
    words[:] = values
