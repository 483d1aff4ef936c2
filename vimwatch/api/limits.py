"""A ceiling on request bodies, enforced before anything reads them.

Checked on the declared Content-Length and again while the body streams in, so neither a
lying header nor a chunked upload can make the server buffer more than the limit.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
# A fleet import carries many VIMs in one body by design (10,000 take about 2.5 MB).
LARGER_LIMITS = {"/v1.0/vims/import": 64 * 1024 * 1024}


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    kind: str,
    message: str,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """An error answered by a middleware, before the app and its error handlers, in the
    envelope of the route's family of clients (vimwatch.api.errors)."""
    if scope["path"].startswith("/v2"):
        body: dict[str, Any] = {"faultcode": "Client", "faultstring": message, "debuginfo": None}
    else:
        body = {"TackerError": {"type": kind, "message": message, "detail": ""}}
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = LARGER_LIMITS.get(scope["path"], self.limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            message = f"request body larger than {limit} bytes"
            await send_error(scope, send, 413, "RequestEntityTooLarge", message)
            return
        received = 0

        async def counting_receive() -> Message:
            # Raised inside the app, it reaches the API's error handlers like any HTTP error.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)
