"""Plumbing shared by the fake VIM endpoints: a loopback HTTP(S) server in a thread.

Tests must never leave 127.0.0.1, yet the drivers have to meet real HTTP, real TLS and real
connection failures, so the fakes are genuine servers on ephemeral loopback ports rather
than mocked transports. Each fake only decides what to answer (`FakeServer.handle`); this
module owns sockets, threads, TLS and the bookkeeping tests assert on.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TLSIdentity:
    """A private CA plus a server certificate it signed for 127.0.0.1.

    A separate CA (rather than one self-signed leaf) keeps verification honest under
    OpenSSL's stricter chain rules: the client trusts `ca_pem`, the server presents the leaf.
    """

    ca_pem: str
    cert_pem: str
    key_pem: str

    def server_context(self) -> ssl.SSLContext:
        # load_cert_chain only reads files, so the PEMs take a short detour through disk.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert.write_text(self.cert_pem)
            key.write_text(self.key_pem)
            context.load_cert_chain(cert, key)
        return context


def make_tls_identity(host: str = LOOPBACK) -> TLSIdentity:
    """Mint a fresh CA and server certificate, so no key material lives in the repository."""
    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vimwatch test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_san_for(host)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    return TLSIdentity(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM).decode(),
        cert_pem=leaf_cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _san_for(host: str) -> list[x509.GeneralName]:
    try:
        return [x509.IPAddress(ipaddress.ip_address(host))]
    except ValueError:
        return [x509.DNSName(host)]


class FakeServer:
    """A loopback server that hands every request to `handle` on a worker thread.

    Use it as a context manager (or call `start`/`stop` from a fixture). `requests` records
    what arrived so tests can assert on the conversation, not only on its outcome.
    """

    def __init__(self, tls: bool = False) -> None:
        self.tls = make_tls_identity() if tls else None
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running")
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{LOOPBACK}:{self._httpd.server_address[1]}"

    @property
    def ca_pem(self) -> str | None:
        return self.tls.ca_pem if self.tls else None

    def start(self) -> Self:
        context = self.tls.server_context() if self.tls else None
        self._httpd = _Server((LOOPBACK, 0), _Handler, fake=self, tls_context=context)
        # A short poll interval keeps stop(), and so every fixture teardown, quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def respond_to(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
        return self.handle(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        fake: FakeServer,
        tls_context: ssl.SSLContext | None,
    ) -> None:
        self.fake = fake
        self.tls_context = tls_context
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # Refused handshakes and dropped connections are what several tests provoke on
        # purpose; anything else is a bug in a fake and should be loud.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def setup(self) -> None:
        # The TLS handshake happens here, on the worker thread, so a client that stalls or
        # rejects the certificate cannot block the accept loop.
        if self.server.tls_context is not None:
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(self.command, self.path, self.headers, self.rfile.read(length))
        response = self.server.fake.respond_to(request)
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        headers = {"Content-Type": "application/json", **response.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@contextmanager
def silent_listener() -> Iterator[str]:
    """Yield a URL whose server accepts the TCP connection but never answers.

    The kernel completes the handshake from the listen backlog, so clients connect fine and
    then wait: exactly the hung-VIM case that only a timeout can end.
    """
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(8)
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"
