"""A webhook receiver on 127.0.0.1 that checks signatures the way the README tells users to.

It verifies `X-Vimwatch-Signature: sha256=<hex>` with hashlib and hmac directly, not with
vimwatch's own code, so a change to the documented format fails the tests. Its answers are
scripted: a queue of status codes (then 200 for ever), or `hang()` to hold every request
open until `release()`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from typing import Any

from tests import polling
from tests.fakes import FakeServer, Request, Response


@dataclass(frozen=True)
class Received:
    body: dict[str, Any]
    signature_ok: bool
    delivery: str | None
    event: str | None
    answered: int


class WebhookReceiver(FakeServer):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.received: list[Received] = []
        self._answers: list[int] = []
        self._released = threading.Event()
        self._released.set()

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/vimwatch"

    def answer(self, *statuses: int) -> None:
        """Answer the next requests with these status codes, then 200 again."""
        self._answers.extend(statuses)

    def hang(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def handle(self, request: Request) -> Response:
        self._released.wait(timeout=60)
        expected = (
            "sha256=" + hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
        )
        status = self._answers.pop(0) if self._answers else 200
        self.received.append(
            Received(
                body=json.loads(request.body),
                signature_ok=hmac.compare_digest(
                    expected, request.headers.get("X-Vimwatch-Signature", "")
                ),
                delivery=request.headers.get("X-Vimwatch-Delivery"),
                event=request.headers.get("X-Vimwatch-Event"),
                answered=status,
            )
        )
        return Response(status, {"ok": status < 300})

    def status_changes(self, vim_id: str | None = None) -> list[Received]:
        """Accepted (2xx) status-change deliveries, optionally of one VIM."""
        return [
            r
            for r in self.received
            if r.answered < 300
            and r.body.get("event") == "vim.status_changed"
            and (vim_id is None or r.body["vim_id"] == vim_id)
        ]

    def wait_for(self, predicate, timeout: float = 20.0) -> Any:  # noqa: ANN001
        return polling.wait_for(predicate, timeout, 0.05, detail=f" (received {self.received})")
