"""HTTP probes: proof that the VIM's API itself answers, not merely its host.

The request goes to the registered URL rather than to the resolved address, because TLS
certificates and virtual hosts need the name; the address is used only for logs.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx

from vimwatch.monitor.probes.base import (
    CLOSED,
    MAX_IN_FLIGHT,
    TIMEOUT,
    ProbeResult,
    Report,
    describe,
)
from vimwatch.monitor.target import Target

# Many VIMs behind one proxy must not queue behind each other's probes.
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=100)


class HttpProbe:
    kind = "http"

    def __init__(self) -> None:
        self._clients: dict[bool, httpx.AsyncClient] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def open(self) -> None:
        # Certificate verification is a per-client setting in httpx, so one client per
        # choice; trust_env is off because a proxy answering says nothing about the VIM.
        self._clients = {
            verify: httpx.AsyncClient(
                verify=verify, limits=_LIMITS, follow_redirects=False, trust_env=False
            )
            for verify in (True, False)
        }

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()

    def start(self, target: Target, address: str, timeout: float, report: Report) -> None:
        client = self._clients[target.verify_tls]
        task = asyncio.get_running_loop().create_task(self._get(client, target, timeout, report))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _get(
        self, client: httpx.AsyncClient, target: Target, timeout: float, report: Report
    ) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            # httpx's timeout applies to each phase (connect, write, read) separately.
            # The status line is the answer; streaming spares reading a large body.
            async with (
                asyncio.timeout(timeout),
                self._slots,
                client.stream("GET", target.url, timeout=timeout) as response,
            ):
                status = response.status_code
        except asyncio.CancelledError:
            report(CLOSED)
            raise
        except (TimeoutError, httpx.TimeoutException):
            report(TIMEOUT)
            return
        except httpx.HTTPError as exc:
            report(ProbeResult(False, None, _describe(exc)))
            return
        if status >= 500:
            report(ProbeResult(False, None, f"HTTP {status}"))
        else:
            report(ProbeResult(True, loop.time() - began, ""))


def _describe(exc: httpx.HTTPError) -> str:
    """The innermost OS or TLS error says what went wrong; httpx's wrapper only where."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"tls: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"tls: {cause.reason or cause}"
        if isinstance(cause, OSError) and cause.errno:
            return describe(cause)
        cause = cause.__cause__ or cause.__context__
    return str(exc).lower() or type(exc).__name__
