import asyncio
import contextlib
import ctypes
import errno
import json
import logging
import socket
import struct
import sys
import time
from collections.abc import AsyncIterator

import pytest

from tests.lab import Lab, LabHost
from tests.monitor.probes.support import pending_timers, probe_once
from vimwatch.monitor.probes import IcmpProbe, ProbeUnavailable, TcpProbe, open_probe
from vimwatch.monitor.probes.base import ProbeResult
from vimwatch.monitor.probes.icmp import channel as icmp_channel
from vimwatch.monitor.probes.icmp import probe as icmp_probe
from vimwatch.monitor.probes.icmp.batch import SingleReader
from vimwatch.monitor.probes.icmp.mmsg import Mmsghdr
from vimwatch.monitor.target import target_from_auth_url

TARGET = target_from_auth_url("http://127.0.0.1/")


def rfc1071_checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@pytest.fixture
async def probe() -> AsyncIterator[IcmpProbe]:
    async with opened_probe() as opened:
        yield opened


@contextlib.asynccontextmanager
async def opened_probe() -> AsyncIterator[IcmpProbe]:
    """An IcmpProbe opened now, after whatever the test patched; skips without raw sockets."""
    opened = IcmpProbe()
    try:
        await opened.open()
    except ProbeUnavailable as exc:
        pytest.skip(f"no raw ICMP socket here: {exc}")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1"])
async def test_loopback_addresses_answer_once_with_an_rtt(probe: IcmpProbe, address: str) -> None:
    result = await probe_once(probe, TARGET, address, timeout=0.5, linger=0.6)
    assert result.ok, result
    assert result.reason == ""
    assert 0 < result.rtt < 0.5


async def test_a_reply_disarms_the_probes_timeout_timer(probe: IcmpProbe) -> None:
    assert (await probe_once(probe, TARGET, "127.0.0.1", timeout=30)).ok
    assert pending_timers(asyncio.get_running_loop()) == []


async def test_expanded_ipv6_spelling_still_matches_the_reply(probe: IcmpProbe) -> None:
    result = await probe_once(probe, TARGET, "0:0:0:0:0:0:0:1", timeout=0.5)
    assert result.ok, result


async def test_concurrent_probes_to_many_addresses_each_get_their_own_reply(
    probe: IcmpProbe,
) -> None:
    addresses = [f"127.0.{i}.{j}" for i in range(4) for j in range(1, 51)] + ["::1"] * 20
    results = await asyncio.gather(
        *(probe_once(probe, TARGET, address, timeout=1.0) for address in addresses)
    )
    assert all(result.ok for result in results), [r for r in results if not r.ok][:3]


async def test_replies_are_matched_as_well_when_read_one_per_system_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(icmp_channel, "open_batch_reader", SingleReader)
    async with opened_probe() as probe:
        assert isinstance(probe._channels[socket.AF_INET]._reader, SingleReader)
        addresses = [f"127.0.{i}.{j}" for i in range(4) for j in range(1, 51)]
        results = await asyncio.gather(
            *(probe_once(probe, TARGET, address, timeout=1.0) for address in addresses)
        )
        assert all(result.ok for result in results), [r for r in results if not r.ok][:3]


async def test_probes_sent_from_reports_while_replies_are_read_all_get_their_replies(
    probe: IcmpProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    results: list[ProbeResult] = []
    done = loop.create_future()
    first = [f"127.0.1.{j}" for j in range(1, 61)]
    then = iter([f"127.0.{i}.{j}" for i in (2, 3, 4) for j in range(1, 61)])

    def report(result: ProbeResult) -> None:
        results.append(result)
        if len(results) <= len(first):
            # Three sends read the socket again, into the buffer that the read which
            # called this report may still be parsing.
            for _ in range(3):
                probe.start(TARGET, next(then), 10.0, report)
        if len(results) == 4 * len(first) and not done.done():
            done.set_result(None)

    channel = probe._channels[socket.AF_INET]
    loop.remove_reader(channel._sock.fileno())
    # A reply read and lost would be answered only by the echo sent again at 5 s.
    for address in first:
        probe.start(TARGET, address, 10.0, report)
    monkeypatch.setattr(icmp_channel, "DRAIN_EVERY", 3)
    loop.add_reader(channel._sock.fileno(), channel._drain)
    async with asyncio.timeout(3):
        await done
    assert all(result.ok for result in results)


async def test_echo_request_checksum_is_valid_for_every_sequence(probe: IcmpProbe) -> None:
    channel = probe._channels[socket.AF_INET]
    for seq in [0, 1, 0x7FFF, 0xFFFE, 0xFFFF, *range(0, 0x10000, 251)]:
        packet = channel._packets[seq]
        assert rfc1071_checksum(packet) == 0, seq
        assert struct.unpack_from("!BBxxHH", packet) == (8, 0, channel._ident, seq)


async def test_close_reports_waiting_probes_and_leaves_no_timer() -> None:
    probe = IcmpProbe()
    try:
        await probe.open()
    except ProbeUnavailable as exc:
        pytest.skip(str(exc))
    reports: list[ProbeResult] = []
    # Closed before the loop can read the reply: the probe is still waiting.
    probe.start(TARGET, "127.0.0.1", 30, reports.append)
    await probe.close()
    assert [result.ok for result in reports] == [False]
    assert pending_timers(asyncio.get_running_loop()) == []


async def test_probes_that_get_no_reply_time_out_each_after_its_own_timeout(
    probe: IcmpProbe,
) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    ended: dict[float, float] = {}

    def expect(timeout: float):  # noqa: ANN202
        def report(result: ProbeResult) -> None:
            assert result == ProbeResult(False, None, "timeout")
            ended[timeout] = loop.time() - began

        return report

    channel = probe._channels[socket.AF_INET]
    # Replies are never read: as if the hosts were silent.
    loop.remove_reader(channel._sock.fileno())
    for timeout in (0.3, 0.1, 0.2):
        probe.start(TARGET, "127.0.0.1", timeout, expect(timeout))
    await asyncio.sleep(0.45)
    assert sorted(ended) == [0.1, 0.2, 0.3]
    for timeout, took in ended.items():
        assert timeout - 0.005 <= took < timeout + 0.05, ended
    assert pending_timers(loop) == []
    loop.add_reader(channel._sock.fileno(), channel._drain)


async def test_a_burst_of_probes_arms_one_sweep_timer(probe: IcmpProbe) -> None:
    loop = asyncio.get_running_loop()
    channel = probe._channels[socket.AF_INET]
    loop.remove_reader(channel._sock.fileno())
    reports: list[ProbeResult] = []
    # A cancelled timer stays in the loop's heap until the loop next runs.
    timers = len(loop._scheduled)  # type: ignore[attr-defined]
    for host in range(1, 101):
        probe.start(TARGET, f"127.0.0.{host}", 1.0, reports.append)
    assert len(loop._scheduled) == timers + 1  # type: ignore[attr-defined]
    loop.add_reader(channel._sock.fileno(), channel._drain)


class Launch:
    """A caller's record of one probe of a batch, and the report it gets."""

    def __init__(self, probe: IcmpProbe, address: str, timeout: float = 1.0) -> None:
        self.address = address
        self.route = probe.route(address)
        self.timeout = timeout
        self.results: list[ProbeResult] = []
        self.done = asyncio.Event()

    def __call__(self, result: ProbeResult) -> None:
        self.results.append(result)
        self.done.set()

    def answered(self, rtt: float) -> None:
        self(ProbeResult(True, rtt, ""))


async def reported(launches: list[Launch], linger: float = 0.1) -> list[list[ProbeResult]]:
    async with asyncio.timeout(3):
        for launch in launches:
            await launch.done.wait()
    await asyncio.sleep(linger)
    return [launch.results for launch in launches]


def addresses(count: int) -> list[str]:
    return [f"127.0.{i // 200}.{i % 200 + 1}" for i in range(count)]


async def test_a_batch_of_probes_each_gets_its_own_reply(probe: IcmpProbe) -> None:
    launches = [Launch(probe, address) for address in addresses(600)]
    probe.start_many(launches)
    results = await reported(launches)
    assert all(len(found) == 1 and found[0].ok for found in results)
    assert all(0 < found[0].rtt < 0.5 for found in results)


async def test_only_ipv4_literals_are_routed_to_batches(probe: IcmpProbe) -> None:
    assert probe.route("127.0.1.2") == 0x7F000102
    assert probe.route("::1") is None
    assert probe.route("not-an-address") is None


async def test_a_message_the_kernel_refuses_fails_its_probe_from_the_loop_and_no_other(
    probe: IcmpProbe,
) -> None:
    channel = probe._channels[socket.AF_INET]
    sender = channel._sender
    if sender is None:
        pytest.skip("libc has no sendmmsg")
    real = sender._sendmmsg
    message = ctypes.sizeof(Mmsghdr)
    refused_seq = (channel._seq + 3) & 0xFFFF  # the third probe of the batch

    def refuse_one(fd: int, address: int, count: int, flags: int) -> int:
        # As the kernel does: a refused message ends the call; when it is the first, the
        # call fails with its errno.
        offset = (refused_seq - (address - sender._base) // message) & 0xFFFF
        if offset == 0:
            ctypes.set_errno(errno.EPERM)
            return -1
        return real(fd, address, min(count, offset), flags)

    sender._sendmmsg = refuse_one
    launches = [Launch(probe, address) for address in addresses(5)]
    probe.start_many(launches)
    # Replies already queued may be reported at once; a refusal only from the loop, so
    # that the caller is never re-entered with a failure of its own call.
    assert launches[2].results == []
    results = await reported(launches)
    assert results[2] == [ProbeResult(False, None, "operation not permitted")]
    assert all(len(found) == 1 and found[0].ok for i, found in enumerate(results) if i != 2)


async def test_a_probe_whose_sequence_is_in_use_for_its_address_goes_on_another(
    probe: IcmpProbe,
) -> None:
    loop = asyncio.get_running_loop()
    channel = probe._channels[socket.AF_INET]
    loop.remove_reader(channel._sock.fileno())
    earlier = Launch(probe, "127.0.0.1")
    probe.start_many([earlier])
    # The next batch starts on the sequence the unanswered probe above still holds.
    channel._seq = (channel._seq - 1) & 0xFFFF
    launches = [Launch(probe, "127.0.0.1"), Launch(probe, "127.0.0.2")]
    probe.start_many(launches)
    loop.add_reader(channel._sock.fileno(), channel._drain)
    results = await reported([earlier, *launches])
    assert all(len(found) == 1 and found[0].ok for found in results)


async def test_without_sendmmsg_a_batch_is_sent_one_probe_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(icmp_channel, "open_burst_sender", lambda sock, packets: None)
    async with opened_probe() as probe:
        launches = [Launch(probe, address) for address in addresses(300)]
        probe.start_many(launches)
        results = await reported(launches)
        assert all(len(found) == 1 and found[0].ok for found in results)


async def test_ipv4_requests_carry_dont_fragment(probe: IcmpProbe) -> None:
    # With DF set Linux leaves the IP ID of an unconnected raw socket's packets alone
    # instead of hashing up one per packet.
    listener = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    listener.settimeout(1.0)
    try:
        launch = Launch(probe, "127.0.0.9")
        probe.start_many([launch])
        while True:
            packet = listener.recv(128)
            if packet[20] == 8 and packet[16:20] == socket.inet_aton("127.0.0.9"):
                break
    finally:
        listener.close()
    flags_and_offset = struct.unpack_from("!H", packet, 6)[0]
    assert flags_and_offset & 0x4000


async def test_icmp_falls_back_to_tcp_with_a_warning_when_no_socket_can_be_opened(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(family: int, privileged: bool) -> socket.socket:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(icmp_probe, "open_socket", refuse)
    with caplog.at_level(logging.WARNING):
        probe = await open_probe("icmp")
    try:
        assert isinstance(probe, TcpProbe)
        assert "TCP" in caplog.text and "CAP_NET_RAW" in caplog.text
    finally:
        await probe.close()


async def test_unknown_probe_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown probe kind"):
        await open_probe("smoke-signal")


# --- against lab hosts -------------------------------------------------------------------

INJECT = """
import socket, struct, sys
dst, kind, ident, seq = sys.argv[1], *map(int, sys.argv[2:5])
head = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + b"vimwatch"
total = sum(struct.unpack("!8H", head))
while total >> 16:
    total = (total & 0xFFFF) + (total >> 16)
packet = struct.pack("!BBHHH", kind, 0, ~total & 0xFFFF, ident, seq) + b"vimwatch"
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
if len(sys.argv) > 5:  # four bytes of IP options (NOP, NOP, NOP, end): a 24-byte IP header
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([1, 1, 1, 0]))
sock.sendto(packet, (dst, 0))
"""


async def inject(host: LabHost, kind: int, ident: int, seq: int, ip_options: bool = False) -> None:
    """Send an ICMP message from inside `host` to the root namespace, as if it answered."""
    args = (sys.executable, "-c", INJECT, host.gateway, str(kind), str(ident), str(seq))
    args += ("ip-options",) if ip_options else ()
    await asyncio.to_thread(host.run, *args, check=True)


@pytest.mark.lab
async def test_muted_host_times_out_after_the_timeout(probe: IcmpProbe, lab: Lab) -> None:
    host = lab.add_host()
    host.mute()
    began = time.monotonic()
    result = await probe_once(probe, TARGET, host.address, timeout=0.3, linger=0.1)
    assert result == ProbeResult(False, None, "timeout")
    assert 0.28 < time.monotonic() - began < 0.6


@pytest.mark.lab
async def test_a_lost_echo_is_sent_again_at_half_the_timeout_and_its_reply_counts(
    probe: IcmpProbe, lab: Lab
) -> None:
    host = lab.add_host()
    # Answered once first, so that the host's MAC address is known before the loss.
    assert (await probe_once(probe, TARGET, host.address, timeout=0.5)).ok
    host.lossy(100)
    loop = asyncio.get_running_loop()
    began = loop.time()
    reports: list[tuple[float, ProbeResult]] = []
    probe.start(TARGET, host.address, 1.0, lambda result: reports.append((loop.time(), result)))
    await asyncio.sleep(0.25)
    host.clear()  # the first echo is gone; the second, at 0.5 s, gets through
    await asyncio.sleep(1.0)
    assert [result.ok for _, result in reports] == [True], reports
    answered_at, result = reports[0]
    assert 0.45 < answered_at - began < 0.9
    # The round trip of the echo that was answered, not the wait before it was sent.
    assert result.rtt < 0.4
    assert pending_timers(asyncio.get_running_loop()) == []


@pytest.mark.lab
async def test_host_with_its_link_down_fails_and_answers_again_when_up(
    probe: IcmpProbe, lab: Lab
) -> None:
    host = lab.add_host()
    assert (await probe_once(probe, TARGET, host.address, timeout=0.5)).ok
    host.down()
    assert not (await probe_once(probe, TARGET, host.address, timeout=0.3)).ok
    host.up()
    await asyncio.sleep(0.1)
    assert (await probe_once(probe, TARGET, host.address, timeout=0.5)).ok


@pytest.mark.lab
async def test_only_an_echo_reply_from_the_probed_address_with_our_id_and_seq_counts(
    probe: IcmpProbe, lab: Lab
) -> None:
    probed, other = lab.add_host(), lab.add_host()
    probed.mute()
    other.mute()
    reports: list[ProbeResult] = []
    probe.start(TARGET, probed.address, 5.0, reports.append)
    channel = probe._channels[socket.AF_INET]
    ident, seq = channel._ident, channel._seq

    await inject(probed, 0, ident ^ 1, seq)  # someone else's identifier
    await inject(probed, 0, ident, (seq + 1) & 0xFFFF)  # another sequence
    await inject(probed, 8, ident, seq)  # an echo request, not a reply
    await inject(other, 0, ident, seq)  # the right numbers from the wrong host
    await asyncio.sleep(0.3)
    assert reports == []

    await inject(probed, 0, ident, seq, ip_options=True)  # found only if IHL is honoured
    await asyncio.sleep(0.3)
    assert [result.ok for result in reports] == [True]


PING_SOCKET_CHECK = """
import asyncio, json, socket
from vimwatch.monitor.probes import open_probe
from vimwatch.monitor.probes.icmp import probe as icmp_probe
from vimwatch.monitor.target import target_from_auth_url

real_open = icmp_probe.open_socket

def without_raw(family, privileged):
    if privileged:
        raise PermissionError(1, "Operation not permitted")
    return real_open(family, privileged)

icmp_probe.open_socket = without_raw

async def main():
    probe = await open_probe("icmp")
    loop = asyncio.get_running_loop()
    found = {"kind": probe.kind, "privileged": getattr(probe, "privileged", None)}
    for address in ("127.0.0.1", "::1"):
        done = loop.create_future()
        probe.start(target_from_auth_url("http://127.0.0.1/"), address, 1.0, done.set_result)
        found[address] = (await done).ok
    await probe.close()
    print(json.dumps(found))

asyncio.run(main())
"""


@pytest.mark.lab
async def test_without_raw_sockets_icmp_uses_the_kernels_ping_socket(lab: Lab) -> None:
    # ping_group_range is per network namespace: allowing ping sockets in the lab host
    # leaves the machine's own setting alone.
    host = lab.add_host()
    host.run("sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647", check=True)
    done = await asyncio.to_thread(host.run, sys.executable, "-c", PING_SOCKET_CHECK, check=True)
    found = json.loads(done.stdout)
    assert found == {"kind": "icmp", "privileged": False, "127.0.0.1": True, "::1": True}
