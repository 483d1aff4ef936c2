"""TCP connect probes: proof that the VIM's API port accepts connections.

Needs no privilege, so it is also what ICMP falls back to; it also sees what ICMP cannot,
a host that answers pings while its API is down.
"""

from __future__ import annotations

import asyncio

from vimwatch.monitor.probes.base import CLOSED, MAX_IN_FLIGHT, ProbeResult, Report, failure
from vimwatch.monitor.target import Target


class TcpProbe:
    kind = "tcp"

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def open(self) -> None:
        """Nothing to open: each probe is its own connection."""

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def start(self, target: Target, address: str, timeout: float, report: Report) -> None:
        task = asyncio.get_running_loop().create_task(
            self._connect(address, target.port, timeout, report)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, address: str, port: int, timeout: float, report: Report) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            async with asyncio.timeout(timeout), self._slots:
                _, writer = await asyncio.open_connection(address, port)
        except OSError as exc:
            report(failure(exc))
            return
        except asyncio.CancelledError:
            report(CLOSED)
            raise
        rtt = loop.time() - began
        # Holding the connection would only tie up one of the VIM's sockets.
        writer.close()
        report(ProbeResult(True, rtt, ""))
