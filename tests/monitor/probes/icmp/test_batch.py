import socket
from collections.abc import Callable, Iterator

import pytest

from vimwatch.monitor.probes.icmp.batch import (
    BATCH,
    STRIDE,
    BatchReader,
    SingleReader,
    open_batch_reader,
)

Reader = BatchReader | SingleReader


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    sender, receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.setblocking(False)
    yield sender, receiver
    sender.close()
    receiver.close()


def read_all(reader: Reader) -> list[tuple[int, bytes]]:
    found = []
    while got := reader.read():
        sizes = reader.sizes()
        found += [(sizes[i], bytes(reader.view[i * STRIDE : i * STRIDE + 2])) for i in range(got)]
    return found


@pytest.mark.parametrize("make", [open_batch_reader, SingleReader], ids=["recvmmsg", "single"])
def test_each_datagram_is_read_in_order_with_its_size_and_cut_to_the_stride(
    pair: tuple[socket.socket, socket.socket], make: Callable[[socket.socket], Reader]
) -> None:
    sender, receiver = pair
    reader = make(receiver)
    assert reader.read() == 0
    datagrams = [bytes([i]) * (20 + i) for i in range(5)] + [b"z" * (STRIDE * 3)]
    for datagram in datagrams:
        sender.send(datagram)
    assert read_all(reader) == [(20 + i, bytes([i, i])) for i in range(5)] + [(STRIDE, b"zz")]
    assert reader.read() == 0


def test_a_burst_is_read_in_batches_of_one_call_each(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sender, receiver = pair
    reader = open_batch_reader(receiver)
    if isinstance(reader, SingleReader):
        pytest.skip("libc has no recvmmsg")
    for i in range(BATCH + 3):
        sender.send(i.to_bytes(2, "big"))
    assert reader.read() == BATCH
    assert reader.read() == 3
    assert bytes(reader.view[2 * STRIDE : 2 * STRIDE + 2]) == (BATCH + 2).to_bytes(2, "big")


def test_without_recvmmsg_in_libc_datagrams_are_read_singly(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ctypes.CDLL", lambda *args, **kwargs: object())
    sender, receiver = pair
    reader = open_batch_reader(receiver)
    assert isinstance(reader, SingleReader)
    sender.send(b"ab")
    assert read_all(reader) == [(2, b"ab")]
