"""A ceiling on request heads (request line and headers), enforced while they stream in.

The HTTP parser keeps a header's value in memory until its end arrives, so without a
bound four requests with 100 MB tokens took the server from 143 MB to nearly 1 GB. The
ASGI app only sees a request once its head is complete, too late to refuse it: this
bound lives in uvicorn's protocol, which answers 431 and closes the connection as soon
as a head outgrows it. Kept generous for Keystone's largest (PKI-era) tokens.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._header_count = 0
        self._in_head = True
        # Once refused, the rest of what the parser finds in the read is ignored.
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Checked after parsing: a read that ends the head and carries a body is fine.
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(f"request headers larger than {MAX_HEAD_BYTES} bytes")

    def on_message_begin(self) -> None:
        if not self._refused:
            super().on_message_begin()
            self._in_head, self._header_count = True, 0

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > MAX_HEADERS:
            self._refuse(f"more than {MAX_HEADERS} request headers")
        if not self._refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if not self._refused:
            self._in_head, self._head_bytes = False, 0
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()
            self._in_head = True

    def _refuse(self, message: str) -> None:
        if self._refused:
            return
        self._refused = True
        body = message.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()
