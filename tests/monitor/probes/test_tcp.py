import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.lab import Lab
from tests.monitor.probes.support import probe_once
from vimwatch.monitor.probes import TcpProbe
from vimwatch.monitor.probes.base import ProbeResult
from vimwatch.monitor.target import target_from_auth_url


@pytest.fixture
async def probe() -> AsyncIterator[TcpProbe]:
    opened = TcpProbe()
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture(params=[(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def listener(request: pytest.FixtureRequest) -> Iterator[socket.socket]:
    family, address = request.param
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        sock.listen()
        yield sock


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_listening_port_is_ok_and_the_connection_is_closed_at_once(
    probe: TcpProbe, listener: socket.socket
) -> None:
    address, port = listener.getsockname()[:2]
    host = f"[{address}]" if ":" in address else address
    target = target_from_auth_url(f"https://{host}:{port}/v3")
    result = await probe_once(probe, target, address, timeout=1.0)
    assert result.ok and result.reason == ""
    assert 0 < result.rtt < 1.0
    connection, _ = listener.accept()
    with connection:
        connection.settimeout(2.0)
        assert connection.recv(1) == b""


async def test_closed_port_is_a_refused_failure(probe: TcpProbe) -> None:
    target = target_from_auth_url(f"http://127.0.0.1:{closed_port()}/")
    result = await probe_once(probe, target, "127.0.0.1", timeout=1.0)
    assert result == ProbeResult(False, None, "connection refused")


async def test_probe_connects_to_the_given_address_on_the_targets_port(
    probe: TcpProbe, listener: socket.socket
) -> None:
    address, port = listener.getsockname()[:2]
    # The URL names another host: a resolved address must win over it.
    target = target_from_auth_url(f"https://keystone.example.com:{port}/v3")
    assert (await probe_once(probe, target, address, timeout=1.0)).ok


@pytest.mark.lab
async def test_unanswered_connect_times_out(probe: TcpProbe, lab: Lab) -> None:
    host = lab.add_host()
    host.lossy(100)
    target = target_from_auth_url(f"http://{host.address}:5000/")
    began = time.monotonic()
    result = await probe_once(probe, target, host.address, timeout=0.3)
    assert result == ProbeResult(False, None, "timeout")
    assert time.monotonic() - began < 0.6


@pytest.mark.lab
async def test_close_ends_connects_in_flight_and_leaves_no_task(lab: Lab) -> None:
    host = lab.add_host()
    host.lossy(100)
    probe = TcpProbe()
    await probe.open()
    reports: list[ProbeResult] = []
    probe.start(
        target_from_auth_url(f"http://{host.address}:5000/"), host.address, 30, reports.append
    )
    await asyncio.sleep(0.05)
    await probe.close()
    assert [result.ok for result in reports] == [False]
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_probes_past_the_in_flight_limit_wait_within_their_timeout(monkeypatch) -> None:
    monkeypatch.setattr("vimwatch.monitor.probes.tcp.MAX_IN_FLIGHT", 1)
    limited = TcpProbe()
    await limited.open()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.setblocking(False)
        target = target_from_auth_url(f"http://127.0.0.1:{sock.getsockname()[1]}/")
        try:
            async with limited._slots:
                waited = await probe_once(limited, target, "127.0.0.1", timeout=0.2)
            assert waited.reason == "timeout"
            with pytest.raises(BlockingIOError):
                sock.accept()
            assert (await probe_once(limited, target, "127.0.0.1", timeout=1.0)).ok
        finally:
            await limited.close()
