"""One loopback HTTPS server standing for many clouds: a Keystone v3 and a Kubernetes API
server, as far as the API checks use them (the issue allows one server for many VIMs).

Run in a process of its own (`python -m bench.api_doubles --lifetime S`) so that its CPU
is not charged to the engine measured: one asyncio loop, keep-alive connections. It prints
its port and CA file as one JSON line, counts the logins it granted and refused, and
answers `GET /stats` with them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fakes import make_tls_identity

PASSWORD = "bench-password"
BEARER = "bench-bearer-token"
CATALOG = [
    {
        "type": "identity",
        "name": "keystone",
        "endpoints": [{"interface": "public", "region_id": "RegionOne", "url": "/identity/v3"}],
    }
]


class _Double:
    """The clouds' side: answers one request, counting logins and checks."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.tokens: set[str] = set()
        self.counts = {"logins": 0, "refused": 0, "validations": 0, "readyz": 0}

    def _token(self) -> dict[str, object]:
        expires = datetime.now(UTC) + timedelta(seconds=self.lifetime)
        return {"token": {"expires_at": expires.isoformat(), "catalog": CATALOG}}

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, object, dict[str, str]]:
        counts = self.counts
        if method == "POST" and path == "/identity/v3/auth/tokens":
            password = json.loads(body)["auth"]["identity"]["password"]["user"]["password"]
            if password != PASSWORD:
                counts["refused"] += 1
                return 401, {"error": {"code": 401, "message": "Unauthorized"}}, {}
            counts["logins"] += 1
            token = f"tok-{uuid.uuid4().hex}"
            self.tokens.add(token)
            return 201, self._token(), {"X-Subject-Token": token}
        if method == "GET" and path == "/identity/v3/auth/tokens":
            token = headers.get("x-subject-token")
            if token not in self.tokens or headers.get("x-auth-token") != token:
                return 404, {"error": {"code": 404, "message": "Could not find token"}}, {}
            counts["validations"] += 1
            return 200, self._token(), {}
        if method == "GET" and path == "/readyz":
            if headers.get("authorization") != f"Bearer {BEARER}":
                return 401, {"kind": "Status", "code": 401}, {}
            counts["readyz"] += 1
            return 200, "ok", {}
        if path == "/stats":
            return 200, counts, {}
        return 404, {}, {}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """HTTP/1.1 with keep-alive, one request after another on a connection."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                status, document, extra = self.answer(method, path, headers, body)
                payload = json.dumps(document).encode()
                fields = {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(payload)),
                    **extra,
                }
                writer.write(
                    f"HTTP/1.1 {status} X\r\n".encode()
                    + "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode()
                    + b"\r\n"
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
            pass
        finally:
            writer.close()


async def _serve(lifetime: float) -> None:
    identity = make_tls_identity()
    ca_file = Path(tempfile.mkdtemp(prefix="vimwatch-bench-")) / "ca.pem"
    ca_file.write_text(identity.ca_pem)
    double = _Double(lifetime)
    server = await asyncio.start_server(
        double.serve, "127.0.0.1", 0, ssl=identity.server_context(), backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port, "ca_file": str(ca_file)}), flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifetime", type=float, default=3600.0, help="token lifetime, s")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.lifetime))


if __name__ == "__main__":
    main()
