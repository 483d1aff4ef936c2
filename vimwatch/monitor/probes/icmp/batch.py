"""Reading many datagrams per system call, through libc's recvmmsg.

A system call costs about a microsecond on a virtual machine, as much as the rest of the
interpreter's work on an echo reply. Replies come in bursts (a wheel slot's probes leave
together and loopback or LAN answers queue before the burst ends), so one recvmmsg takes
a whole burst. Python's socket module has no recvmmsg, hence ctypes; where libc lacks it,
`open_batch_reader` returns a reader of one datagram per call with the same interface.
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct

from vimwatch.monitor.probes.icmp.mmsg import Iovec, LibcCall, Mmsghdr, libc_call

#: Datagrams taken per call.
BATCH = 64
#: Bytes kept of each datagram: an IPv4 header with every option (60) and an ICMP header.
STRIDE = 128

_RETRY = (errno.EINTR,)
_EMPTY = (errno.EAGAIN, errno.EWOULDBLOCK)


# The received size of every message of the array, in one call: each message's `msg_len`
# sits after its header, padded to the array's stride.
_SIZES = struct.Struct(
    "=" + f"{Mmsghdr.length.offset}xI{ctypes.sizeof(Mmsghdr) - Mmsghdr.length.offset - 4}x" * BATCH
)


class BatchReader:
    """Reads up to BATCH datagrams of one non-blocking socket into one buffer, datagram i
    at `i * STRIDE` of `view` (cut to STRIDE bytes), its size `sizes()[i]`. Fewer than
    `batch` read means the queue is empty."""

    batch = BATCH

    __slots__ = (
        "_recvmmsg",
        "_fd",
        "_buffer",
        "_iovecs",
        "_messages",
        "_address",
        "view",
        "_sizes",
    )

    def __init__(self, recvmmsg: LibcCall, sock: socket.socket) -> None:
        self._recvmmsg = recvmmsg
        self._fd = sock.fileno()
        self._buffer = ctypes.create_string_buffer(BATCH * STRIDE)
        self._iovecs = (Iovec * BATCH)()
        self._messages = (Mmsghdr * BATCH)()
        start = ctypes.addressof(self._buffer)
        for i in range(BATCH):
            self._iovecs[i].base = start + i * STRIDE
            self._iovecs[i].length = STRIDE
            self._messages[i].header.iov = ctypes.pointer(self._iovecs[i])
            self._messages[i].header.iovlen = 1
        self._address = ctypes.addressof(self._messages)
        self.view = memoryview(self._buffer).cast("B")
        self._sizes = memoryview(self._messages).cast("B")

    def read(self) -> int:
        """How many datagrams were read: 0 when none is queued. Raises OSError for a
        socket error other than an empty queue."""
        while True:
            got = self._recvmmsg(self._fd, self._address, BATCH, socket.MSG_DONTWAIT, None)
            if got >= 0:
                return got
            code = ctypes.get_errno()
            if code in _EMPTY:
                return 0
            if code not in _RETRY:
                raise OSError(code, "recvmmsg failed")

    def sizes(self) -> tuple[int, ...]:
        """The size of each datagram of the last read (then stale values past its count)."""
        return _SIZES.unpack_from(self._sizes)


class SingleReader:
    """BatchReader's interface over recv_into, one datagram per call."""

    __slots__ = ("_recv_into", "view", "_size")

    batch = 1

    def __init__(self, sock: socket.socket) -> None:
        self._recv_into = sock.recv_into
        self.view = memoryview(bytearray(STRIDE))
        self._size = 0

    def read(self) -> int:
        try:
            self._size = self._recv_into(self.view)
        except BlockingIOError:
            return 0
        return 1

    def sizes(self) -> tuple[int, ...]:
        return (self._size,)


def open_batch_reader(sock: socket.socket) -> BatchReader | SingleReader:
    """A batch reader for `sock`; one that reads singly where libc offers no recvmmsg."""
    recvmmsg = libc_call(
        "recvmmsg", [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
    )
    if recvmmsg is None:
        return SingleReader(sock)
    return BatchReader(recvmmsg, sock)
