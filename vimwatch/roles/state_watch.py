"""A look at the key file and the SQLite file every few seconds.

Both are also checked where they are used (each write, each seal, /healthz), but a server
with no traffic would otherwise log a deleted database or an exposed key file only at the
next request: this puts the log line at the time of the fault. Each check is one stat,
and each problem is logged once (Keyring.problem, Registry.problem).
"""

from __future__ import annotations

import asyncio

from vimwatch.registry.database import Registry
from vimwatch.secrets.keyring import Keyring

INTERVAL = 5.0


def _look(keyring: Keyring, registry: Registry) -> None:
    keyring.problem()
    registry.problem()


async def watch_state(keyring: Keyring, registry: Registry, interval: float = INTERVAL) -> None:
    """Run until cancelled."""
    while True:
        await asyncio.to_thread(_look, keyring, registry)
        await asyncio.sleep(interval)
