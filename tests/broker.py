"""A private RabbitMQ virtual host per test, so tests never see each other's queues.

The vhost is deleted afterwards, taking every queue, exchange and binding with it.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from vimwatch.messaging.rabbit import RabbitTransport


def rabbitmqctl(*args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def broker_unavailable() -> str | None:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as exc:
        return f"RabbitMQ is not reachable on 127.0.0.1:5672: {exc}"
    return None


@contextmanager
def private_vhost() -> Iterator[tuple[str, str]]:
    """Yield (transport URL, vhost name) for a new vhost guest may use."""
    reason = broker_unavailable()
    if reason:
        pytest.skip(reason)
    vhost = f"vimwatch-test-{secrets.token_hex(4)}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"rabbit://guest:guest@127.0.0.1:5672/{vhost}", vhost
    finally:
        rabbitmqctl("delete_vhost", vhost, check=False)


def kill_bindings(vhost: str) -> set[str]:
    """The KILL_ACTION.<vim id> routing keys bound in the vhost right now."""
    out = rabbitmqctl("list_bindings", "-p", vhost, "-q", "--no-table-headers", "routing_key")
    return {line.strip() for line in out.splitlines() if line.strip().startswith("KILL_ACTION.")}


def queues(vhost: str) -> list[str]:
    out = rabbitmqctl("list_queues", "-p", vhost, "-q", "--no-table-headers", "name")
    return [line.strip() for line in out.splitlines() if line.strip()]


def cast(url: str, address: str, method: str, **kwargs: Any) -> None:
    """A cast from a process of its own, as the api sends a kill on delete."""

    async def send() -> None:
        transport = RabbitTransport(url, process_name="test-api")
        await transport.start()
        try:
            await transport.cast(address, method, **kwargs)
        finally:
            await transport.close()

    asyncio.run(send())
