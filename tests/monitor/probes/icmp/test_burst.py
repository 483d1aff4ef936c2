import ctypes
import errno
import socket
import struct
from collections.abc import Iterator

import pytest

from vimwatch.monitor.probes.icmp.burst import SEQUENCES, BurstSender, open_burst_sender
from vimwatch.monitor.probes.icmp.mmsg import Mmsghdr

# Echo requests with a bad checksum: loopback carries them to a raw socket, but no host
# answers them.
PACKETS = [struct.pack("!BBHHH", 8, 0, 0, 0xBEEF, seq) for seq in range(SEQUENCES)]
HEADER = ctypes.sizeof(Mmsghdr)


def number(address: str) -> int:
    return int.from_bytes(socket.inet_aton(address), "big")


@pytest.fixture
def raw() -> Iterator[tuple[socket.socket, socket.socket]]:
    try:
        sender = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except PermissionError:
        pytest.skip("no raw ICMP socket here")
    listener = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    # A raw socket gets a copy of every ICMP packet of the host: on a busy machine other
    # pingers' packets filled its buffer and ours were dropped. The kernel now queues ours
    # only, and the timeout bounds only how long loopback may take to hand them over.
    only_our_requests(listener)
    listener.settimeout(10.0)
    yield sender, listener
    sender.close()
    listener.close()


# Classic BPF over the IPv4 packet: accept if the ICMP identifier (offset 20 + 4) is ours.
_OUR_IDENT = [
    (0x28, 0, 0, 24),  # ldh [24]
    (0x15, 0, 1, 0xBEEF),  # jeq #0xBEEF, accept, drop
    (0x06, 0, 0, 0x40000),  # ret #262144
    (0x06, 0, 0, 0),  # ret #0
]
_SO_ATTACH_FILTER = 26


def only_our_requests(sock: socket.socket) -> None:
    program = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in _OUR_IDENT))
    fprog = struct.pack("@HP", len(_OUR_IDENT), ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)


def heard(listener: socket.socket, count: int) -> list[tuple[str, int]]:
    """(destination, sequence) of the next `count` of our requests seen on loopback."""
    found = []
    while len(found) < count:
        packet = listener.recv(128)
        destination = socket.inet_ntoa(packet[16:20])
        kind, ident, seq = struct.unpack_from("!B3xHH", packet, 20)
        if kind == 8 and ident == 0xBEEF:
            found.append((destination, seq))
    return found


def test_each_address_gets_the_packet_of_its_sequence_across_the_wrap(
    raw: tuple[socket.socket, socket.socket],
) -> None:
    sender, listener = raw
    burst = open_burst_sender(sender, PACKETS)
    if burst is None:
        pytest.skip("libc has no sendmmsg")
    addresses = ["127.0.0.7", "127.0.3.1", "127.1.0.9", "127.0.0.7"]
    assert burst.send(SEQUENCES - 2, [number(a) for a in addresses]) == []
    assert heard(listener, 4) == [
        ("127.0.0.7", 0xFFFE),
        ("127.0.3.1", 0xFFFF),
        ("127.1.0.9", 0),
        ("127.0.0.7", 1),
    ]


class ScriptedSendmmsg:
    """Stands in for libc's sendmmsg: sends nothing, answers each call from `script`
    (messages taken, or an errno to refuse the first with), records what was asked."""

    def __init__(self, script: list[int | tuple[str, int]]) -> None:
        self.script = script
        self.calls: list[tuple[int, int]] = []
        self.base = 0

    def __call__(self, fd: int, address: int, count: int, flags: int) -> int:
        self.calls.append(((address - self.base) // HEADER, count))
        step = self.script.pop(0)
        if isinstance(step, tuple):
            ctypes.set_errno(step[1])
            return -1
        return min(step, count)


def scripted(script: list[int | tuple[str, int]]) -> tuple[BurstSender, ScriptedSendmmsg]:
    fake = ScriptedSendmmsg(script)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        burst = BurstSender(fake, sock, PACKETS)  # type: ignore[arg-type]
    fake.base = burst._base
    return burst, fake


def test_a_refused_message_is_reported_by_index_and_the_rest_still_go() -> None:
    # The kernel sends two, stops at the third; asked again from there, it names the
    # third's error; then it takes the last two.
    burst, fake = scripted([2, ("refused", errno.EPERM), 5])
    refused = burst.send(100, [number(f"127.0.0.{i}") for i in range(1, 6)])
    assert refused == [(2, errno.EPERM)]
    assert fake.calls == [(100, 5), (102, 3), (103, 2)]


def test_an_interrupted_call_is_made_again() -> None:
    burst, fake = scripted([("interrupted", errno.EINTR), 3])
    assert burst.send(7, [1, 2, 3]) == []
    assert fake.calls == [(7, 3), (7, 3)]


def test_without_sendmmsg_in_libc_there_is_no_burst_sender(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ctypes.CDLL", lambda *args, **kwargs: object())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert open_burst_sender(sock, PACKETS) is None
