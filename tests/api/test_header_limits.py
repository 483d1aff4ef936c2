"""Request heads are bounded as they arrive: oversized or too many headers get 431, and a
flood of huge tokens cannot grow the server's memory."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.service import Server
from vimwatch.api.header_limits import MAX_HEAD_BYTES, MAX_HEADERS


def raw_request(server: Server, head: bytes, chunk: int = 1 << 20, total: int = 0) -> bytes:
    """Send `head` and then `total` more bytes of a header value, as far as the server
    reads them; the status line of whatever it answered."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        try:
            connection.sendall(head)
            filler = b"a" * chunk
            for _ in range(total // chunk):
                connection.sendall(filler)
            connection.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while chunk_read := connection.recv(65536):
                answer += chunk_read
        except ConnectionResetError:
            pass
    return answer


def peak_rss_kib(server: Server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


def test_an_oversized_header_gets_431_and_the_server_keeps_serving(server: Server) -> None:
    head = b"GET /v1.0/vims HTTP/1.1\r\nHost: x\r\nX-Auth-Token: "
    answer = raw_request(server, head, chunk=1024, total=2 * MAX_HEAD_BYTES)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"request headers larger than" in answer
    assert server.api("GET", "/v1.0/vims").status_code == 200


def test_too_many_headers_get_431(server: Server) -> None:
    headers = b"".join(b"X-Filler-%d: y\r\n" % index for index in range(MAX_HEADERS + 1))
    answer = raw_request(server, b"GET /v1.0/vims HTTP/1.1\r\nHost: x\r\n" + headers)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_a_large_but_bounded_head_is_served(server: Server) -> None:
    token = "t" * (MAX_HEAD_BYTES // 2)
    assert server.api("GET", "/v1.0/vims", headers={"X-Auth-Token": token}).status_code == 200


def test_huge_tokens_do_not_grow_the_servers_memory(server: Server) -> None:
    before = peak_rss_kib(server)
    for _ in range(4):
        raw_request(
            server, b"GET /v1.0/vims HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ", total=100 << 20
        )
    assert server.api("GET", "/healthz").status_code == 200
    # Without the bound each 100 MB token was held whole: 850 MB more for four of them.
    assert peak_rss_kib(server) - before < 64 * 1024
