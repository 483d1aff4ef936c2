"""Plumbing shared by the fake VIM endpoints: a loopback HTTP(S) server in a thread.

Tests must never leave 127.0.0.1, yet the drivers have to meet real HTTP, real TLS and real
connection failures, so the fakes are genuine servers on ephemeral loopback ports rather
than mocked transports. Each fake only decides what to answer (`FakeServer.handle`); this
module owns sockets, threads, TLS and the bookkeeping tests assert on.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
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
    #: The subject of the client certificate the TLS handshake verified, by attribute
    #: (commonName, organizationName...); None when the client sent none.
    client_subject: dict[str, list[str]] | None = None

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

    def server_context(self, client_ca_pem: str | None = None) -> ssl.SSLContext:
        """The server's side; with `client_ca_pem`, clients are asked for a certificate,
        and one that CA did not sign ends the handshake (a client without one may still
        connect, as with a Kubernetes API server that also takes bearer tokens)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        load_pem_chain(context, self.cert_pem, self.key_pem)
        if client_ca_pem is not None:
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(cadata=client_ca_pem)
        return context


@dataclass(frozen=True)
class ClientCertificate:
    """A client certificate and its key, as a VIM's credentials hold them (PEM)."""

    cert_pem: str
    key_pem: str


def load_pem_chain(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    # load_cert_chain only reads files, so the PEMs take a short detour through disk.
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert.write_text(cert_pem)
        key.write_text(key_pem)
        context.load_cert_chain(cert, key)


class CertificateAuthority:
    """A throwaway CA that signs server and client certificates, so no key material
    lives in the repository."""

    def __init__(self, common_name: str = "vimwatch test CA") -> None:
        now = datetime.datetime.now(datetime.UTC)
        self._validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._validity[0])
            .not_valid_after(self._validity[1])
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def ca_pem(self) -> str:
        return self._cert.public_bytes(serialization.Encoding.PEM).decode()

    def server_identity(self, host: str = LOOPBACK) -> TLSIdentity:
        cert_pem, key_pem = self._issue(
            host, ExtendedKeyUsageOID.SERVER_AUTH, x509.SubjectAlternativeName(_san_for(host))
        )
        return TLSIdentity(ca_pem=self.ca_pem, cert_pem=cert_pem, key_pem=key_pem)

    def client_certificate(self, user: str, groups: tuple[str, ...] = ()) -> ClientCertificate:
        """A client certificate as Kubernetes reads one: the user is the common name,
        the groups the organizations."""
        subject = [
            x509.NameAttribute(NameOID.COMMON_NAME, user),
            *(x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups),
        ]
        cert_pem, key_pem = self._issue(subject, ExtendedKeyUsageOID.CLIENT_AUTH, None)
        return ClientCertificate(cert_pem=cert_pem, key_pem=key_pem)

    def _issue(
        self,
        subject: str | list[x509.NameAttribute],
        usage: x509.ObjectIdentifier,
        san: x509.SubjectAlternativeName | None,
    ) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        if isinstance(subject, str):
            subject = [x509.NameAttribute(NameOID.COMMON_NAME, subject)]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._validity[0])
            .not_valid_after(self._validity[1])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                False,
            )
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def make_tls_identity(host: str = LOOPBACK) -> TLSIdentity:
    """Mint a fresh CA and a server certificate it signed for `host`."""
    return CertificateAuthority().server_identity(host)


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

    def __init__(self, tls: bool = False, client_ca_pem: str | None = None) -> None:
        self.tls = make_tls_identity() if tls else None
        #: The CA whose client certificates the server accepts (TLS only).
        self.client_ca_pem = client_ca_pem
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
        context = self.tls.server_context(self.client_ca_pem) if self.tls else None
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

    def present(self, identity: TLSIdentity) -> None:
        """Serve new connections with another certificate (and CA): a rotated CA."""
        self.tls = identity
        self._renew_tls()

    def trust_clients_of(self, client_ca_pem: str) -> None:
        """Accept, from new connections on, only client certificates this CA signed."""
        self.client_ca_pem = client_ca_pem
        self._renew_tls()

    def _renew_tls(self) -> None:
        if self._httpd is None or self.tls is None:
            raise RuntimeError("only a running TLS fake can change its TLS settings")
        self._httpd.tls_context = self.tls.server_context(self.client_ca_pem)

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
            raw = self.request
            tls = self.server.tls_context.wrap_socket(
                raw, server_side=True, do_handshake_on_connect=False
            )
            try:
                tls.do_handshake()
            except ssl.SSLError:
                _close_politely(tls)
                raise
            self.request = tls
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _client_subject(self) -> dict[str, list[str]] | None:
        if not isinstance(self.request, ssl.SSLSocket):
            return None
        peer = self.request.getpeercert()
        if not peer:
            return None
        subject: dict[str, list[str]] = {}
        for rdn in peer.get("subject", ()):
            for name, value in rdn:
                subject.setdefault(name, []).append(value)
        return subject

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
        request = Request(
            self.command,
            self.path,
            self.headers,
            self.rfile.read(length),
            self._client_subject(),
        )
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


def _close_politely(tls: ssl.SSLSocket) -> None:
    """After a refused handshake (its alert already sent), read what the client sent
    meanwhile before closing: closing with unread data sends a reset, which can overtake
    the alert (a TLS 1.3 client sends its request before the server has judged its
    certificate), and the client would see a reset instead of the server's reason."""
    with socket.socket(fileno=os.dup(tls.fileno())) as plain:
        plain.settimeout(1.0)
        with contextlib.suppress(OSError):
            while plain.recv(65536):
                pass
    tls.close()


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
