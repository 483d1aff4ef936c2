import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.monitor.probes.support import probe_once
from vimwatch.monitor.probes import HttpProbe
from vimwatch.monitor.probes.base import ProbeResult
from vimwatch.monitor.target import target_from_auth_url

SLOW = 1.0


class Handler(BaseHTTPRequestHandler):
    """Answers with the status named by the path: /200, /404, /503; /slow stalls."""

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(SLOW)
            status = 200
        else:
            status = int(self.path.strip("/"))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Keep test output quiet."""


def serve(context: ssl.SSLContext | None = None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "http" if context is None else "https"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    yield from serve()


@pytest.fixture(scope="module")
def https_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vimwatch test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory: Path = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    yield from serve(context)


@pytest.fixture
async def probe() -> AsyncIterator[HttpProbe]:
    opened = HttpProbe()
    await opened.open()
    yield opened
    await opened.close()


async def get(probe: HttpProbe, url: str, verify: bool = True, timeout: float = 2.0) -> ProbeResult:
    return await probe_once(probe, target_from_auth_url(url, verify), "127.0.0.1", timeout)


@pytest.mark.parametrize("status", [200, 404])
async def test_any_answer_below_500_is_ok(probe: HttpProbe, http_url: str, status: int) -> None:
    result = await get(probe, f"{http_url}/{status}")
    assert result.ok and result.reason == ""
    assert 0 < result.rtt < 2.0


async def test_server_error_is_a_failure_naming_the_status(probe: HttpProbe, http_url: str) -> None:
    assert await get(probe, f"{http_url}/503") == ProbeResult(False, None, "HTTP 503")


async def test_closed_port_is_a_refused_failure(probe: HttpProbe) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await get(probe, f"http://127.0.0.1:{port}/")
    assert result == ProbeResult(False, None, "connection refused")


async def test_answer_slower_than_the_timeout_is_a_timeout(probe: HttpProbe, http_url: str) -> None:
    began = time.monotonic()
    assert await get(probe, f"{http_url}/slow", timeout=0.3) == ProbeResult(False, None, "timeout")
    assert time.monotonic() - began < SLOW


async def test_untrusted_certificate_fails_only_when_verification_is_on(
    probe: HttpProbe, https_url: str
) -> None:
    verified = await get(probe, f"{https_url}/200", verify=True)
    assert not verified.ok
    assert verified.reason.startswith("tls:"), verified.reason
    assert (await get(probe, f"{https_url}/200", verify=False)).ok


async def test_close_ends_requests_in_flight_and_leaves_no_task(http_url: str) -> None:
    probe = HttpProbe()
    await probe.open()
    reports: list[ProbeResult] = []
    probe.start(target_from_auth_url(f"{http_url}/slow"), "127.0.0.1", 5.0, reports.append)
    await asyncio.sleep(0.1)
    await probe.close()
    assert [result.ok for result in reports] == [False]
    assert asyncio.all_tasks() == {asyncio.current_task()}
