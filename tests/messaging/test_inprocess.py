"""The in-process transport's semantics, which every other transport must keep."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from vimwatch.messaging.base import MessagingError
from vimwatch.messaging.factory import open_transport
from vimwatch.messaging.inprocess import InProcessTransport


class Conductor:
    methods = ("update_vim", "wait_forever")

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.internal_called = False

    def update_vim(self, vim_id: str, status: str) -> str:
        self.threads.append(threading.current_thread().name)
        return status

    async def wait_forever(self) -> None:
        await asyncio.Event().wait()

    def internal(self) -> str:
        self.internal_called = True
        return "should not be reachable"


class Inbox:
    methods = ("killAction",)

    def __init__(self) -> None:
        self.kills = 0

    def killAction(self) -> None:  # Tacker's name for it
        self.kills += 1


@pytest.fixture
async def transport() -> AsyncIterator[InProcessTransport]:
    transport = InProcessTransport()
    await transport.start()
    yield transport
    await transport.close()


async def test_a_call_runs_a_synchronous_method_in_a_worker_thread(
    transport: InProcessTransport,
) -> None:
    conductor = Conductor()
    await transport.serve("conductor", conductor)
    assert await transport.call("conductor", "update_vim", vim_id="v1", status="UP") == "UP"
    assert conductor.threads and conductor.threads[0] != threading.current_thread().name


async def test_a_method_not_listed_in_methods_is_refused(transport: InProcessTransport) -> None:
    conductor = Conductor()
    await transport.serve("conductor", conductor)
    with pytest.raises(MessagingError, match="not exposed"):
        await transport.call("conductor", "internal")
    assert not conductor.internal_called


async def test_a_call_that_outlasts_its_timeout_raises_messaging_error(
    transport: InProcessTransport,
) -> None:
    await transport.serve("conductor", Conductor())
    with pytest.raises(MessagingError, match="did not answer within 0.05s"):
        await transport.call("conductor", "wait_forever", timeout=0.05)


async def test_a_call_to_a_topic_nobody_serves_raises_messaging_error(
    transport: InProcessTransport,
) -> None:
    with pytest.raises(MessagingError, match="no server"):
        await transport.call("conductor", "update_vim", vim_id="v1", status="UP")


async def test_a_cast_to_an_unbound_address_is_dropped_silently(
    transport: InProcessTransport,
) -> None:
    inbox = Inbox()
    await transport.bind("KILL_ACTION.v1", inbox)
    await transport.cast("KILL_ACTION.v2", "killAction")
    await transport.unbind("KILL_ACTION.v1")
    await transport.cast("KILL_ACTION.v1", "killAction")
    assert inbox.kills == 0


async def test_a_cast_reaches_the_bound_endpoint(transport: InProcessTransport) -> None:
    inbox = Inbox()
    await transport.bind("KILL_ACTION.v1", inbox)
    await transport.cast("KILL_ACTION.v1", "killAction")
    assert inbox.kills == 1


def test_no_transport_url_means_the_in_process_transport() -> None:
    assert isinstance(open_transport(None, process_name="api"), InProcessTransport)
    assert isinstance(open_transport("", process_name="api"), InProcessTransport)
