"""The RabbitMQ transport against a real broker: the in-process semantics, plus what only a
broker can break (competing servers, a server dying mid-call, bindings, a broker restart).

Every test uses its own exchange and topic names and deletes them afterwards, so reruns on
the same machine start clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import pytest
from aio_pika.exceptions import ChannelNotFoundEntity

from tests.polling import eventually
from vimwatch.errors import InvalidConfig
from vimwatch.messaging.base import MessagingError
from vimwatch.messaging.factory import open_transport
from vimwatch.messaging.rabbit import RabbitTransport, amqp_url

BROKER = "rabbit://guest:guest@127.0.0.1:5672/"
REPO = Path(__file__).resolve().parents[2]


def broker_reachable() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5672), timeout=1):
        return True
    return False


needs_broker = pytest.mark.skipif(
    not broker_reachable(), reason="no RabbitMQ broker listening on 127.0.0.1:5672"
)
needs_rabbitmqctl = pytest.mark.skipif(
    shutil.which("rabbitmqctl") is None, reason="rabbitmqctl is not installed"
)


@dataclass
class Names:
    """Unique broker names for one test, remembered so the test can delete them."""

    suffix: str = field(default_factory=lambda: secrets.token_hex(4))
    topics: list[str] = field(default_factory=list)

    @property
    def exchange(self) -> str:
        return f"vimwatch-test-{self.suffix}"

    def topic(self, name: str) -> str:
        topic = f"vimwatch-test-topic-{self.suffix}.{name}"
        self.topics.append(topic)
        return topic


@pytest.fixture
async def names() -> AsyncIterator[Names]:
    names = Names()
    yield names
    connection = await aio_pika.connect(str(amqp_url(BROKER)))
    async with connection:
        for topic in names.topics:
            with contextlib.suppress(ChannelNotFoundEntity):
                await (await connection.channel()).queue_delete(topic)
        with contextlib.suppress(ChannelNotFoundEntity):
            await (await connection.channel()).exchange_delete(names.exchange)


Opener = Callable[[str], Awaitable[RabbitTransport]]


@pytest.fixture
async def open_rabbit(names: Names) -> AsyncIterator[Opener]:
    opened: list[RabbitTransport] = []

    async def open_one(process_name: str) -> RabbitTransport:
        transport = RabbitTransport(BROKER, process_name=process_name, exchange=names.exchange)
        await transport.start()
        opened.append(transport)
        return transport

    yield open_one
    for transport in opened:
        await transport.close()


async def rabbitmqctl(*args: str) -> str:
    done = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


async def bindings(exchange: str) -> set[tuple[str, str]]:
    """(queue, routing key) of every binding from `exchange`, as the broker reports them."""
    out = await rabbitmqctl(
        "list_bindings", "-q", "--no-table-headers", "source_name", "destination_name",
        "routing_key",
    )  # fmt: skip
    rows = (line.split("\t") for line in out.splitlines())
    return {(row[1], row[2]) for row in rows if len(row) == 3 and row[0] == exchange}


async def process_queues(exchange: str) -> list[str]:
    out = await rabbitmqctl("list_queues", "-q", "--no-table-headers", "name")
    return [name for name in out.split() if name.startswith(f"{exchange}.")]


class Calculator:
    methods = ("add", "fail", "wait_forever")

    def __init__(self) -> None:
        self.internal_called = False

    def add(self, a: int, b: int) -> int:
        return a + b

    async def fail(self) -> None:
        raise ValueError("no such VIM")

    async def wait_forever(self) -> None:
        await asyncio.Event().wait()

    def internal(self) -> str:
        self.internal_called = True
        return "should not be reachable"


class Recorder:
    methods = ("update_vim",)

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[str] = []

    async def update_vim(self, vim_id: str, status: str) -> str:
        await asyncio.sleep(0.01)
        self.seen.append(vim_id)
        return self.name


class Inbox:
    methods = ("killAction", "monitor_vim")

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    async def killAction(self) -> None:  # Tacker's name for it
        self._note("killAction", "")

    async def monitor_vim(self, vim_id: str) -> None:
        self._note("monitor_vim", vim_id)

    def _note(self, method: str, vim_id: str) -> None:
        self.received.append((method, vim_id))
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.received) < count:
                self.changed.clear()
                await self.changed.wait()


# Configuration


def test_rabbit_and_amqp_urls_open_a_rabbit_transport() -> None:
    assert isinstance(open_transport(BROKER, process_name="api"), RabbitTransport)
    amqp = "amqp://guest:guest@127.0.0.1:5672/"
    assert isinstance(open_transport(amqp, process_name="api"), RabbitTransport)


def test_an_oslo_rabbit_url_becomes_the_same_amqp_url() -> None:
    assert str(amqp_url("rabbit://u:p@broker:5672/vimwatch")) == "amqp://u:p@broker:5672/vimwatch"


def test_an_unknown_transport_scheme_names_the_supported_ones() -> None:
    with pytest.raises(InvalidConfig, match=r"rabbit://, amqp://"):
        open_transport("kafka://broker:9092", process_name="api")


def test_a_url_without_a_scheme_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidConfig, match="without a scheme") as raised:
        open_transport("guest:hunter2-secret@broker:5672", process_name="api")
    assert "hunter2-secret" not in str(raised.value)


def test_a_url_with_several_brokers_is_refused_rather_than_misread() -> None:
    with pytest.raises(InvalidConfig, match="one broker host"):
        open_transport("rabbit://u:p@h1:5672,u:p@h2:5672/", process_name="api")


async def test_an_unreachable_broker_fails_start_without_showing_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = RabbitTransport(
        "rabbit://guest:hunter2-secret@127.0.0.1:1/", process_name="api", connect_timeout=2
    )
    with pytest.raises(MessagingError, match="127.0.0.1:1") as raised:
        await transport.start()
    assert "hunter2-secret" not in str(raised.value)
    assert "hunter2-secret" not in caplog.text


@needs_broker
async def test_wrong_credentials_fail_start_without_showing_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = RabbitTransport(
        "amqp://guest:hunter2-secret@127.0.0.1:5672/", process_name="api", connect_timeout=5
    )
    with pytest.raises(MessagingError, match=r"guest:\*\*\*@127.0.0.1:5672") as raised:
        await transport.start()
    assert "hunter2-secret" not in str(raised.value)
    assert "hunter2-secret" not in caplog.text


# Calls


@needs_broker
async def test_a_call_returns_the_result_of_the_served_endpoint(
    open_rabbit: Opener, names: Names
) -> None:
    topic = names.topic("conductor")
    server, client = await open_rabbit("conductor"), await open_rabbit("engine")
    await server.serve(topic, Calculator())
    assert await client.call(topic, "add", a=2, b=3) == 5


@needs_broker
async def test_an_endpoint_error_comes_back_as_messaging_error(
    open_rabbit: Opener, names: Names
) -> None:
    topic = names.topic("conductor")
    server, client = await open_rabbit("conductor"), await open_rabbit("engine")
    await server.serve(topic, Calculator())
    with pytest.raises(MessagingError) as raised:
        await client.call(topic, "fail", timeout=5)
    assert str(raised.value) == "ValueError: no such VIM"


@needs_broker
async def test_a_method_not_listed_in_methods_is_refused(open_rabbit: Opener, names: Names) -> None:
    topic = names.topic("conductor")
    server, client = await open_rabbit("conductor"), await open_rabbit("engine")
    calculator = Calculator()
    await server.serve(topic, calculator)
    with pytest.raises(MessagingError, match="'internal' is not exposed"):
        await client.call(topic, "internal", timeout=5)
    assert not calculator.internal_called


@needs_broker
async def test_a_call_nobody_answers_fails_after_its_retries(
    open_rabbit: Opener, names: Names
) -> None:
    topic = names.topic("conductor")
    server, client = await open_rabbit("conductor"), await open_rabbit("engine")
    await server.serve(topic, Calculator())
    started = time.monotonic()
    with pytest.raises(MessagingError, match="after 2 attempts: no answer within 0.3s"):
        await client.call(topic, "wait_forever", timeout=0.3, retries=1)
    assert time.monotonic() - started < 5


@needs_broker
async def test_a_call_to_a_topic_nobody_serves_fails_with_messaging_error(
    open_rabbit: Opener, names: Names
) -> None:
    client = await open_rabbit("engine")
    with pytest.raises(MessagingError, match="no server for topic"):
        await client.call(names.topic("nobody"), "add", a=1, b=2, timeout=2, retries=1)


@needs_broker
async def test_arguments_that_are_not_json_are_refused_before_sending(
    open_rabbit: Opener, names: Names
) -> None:
    client = await open_rabbit("engine")
    with pytest.raises(MessagingError, match="not JSON"):
        await client.call(names.topic("conductor"), "add", a=object(), b=1)


@needs_broker
async def test_a_reply_for_an_unknown_call_is_dropped(open_rabbit: Opener, names: Names) -> None:
    topic = names.topic("conductor")
    server, client = await open_rabbit("conductor"), await open_rabbit("engine")
    await server.serve(topic, Calculator())
    stray = aio_pika.Message(b'{"result": 666}', correlation_id="not-a-call-of-ours")
    connection = await aio_pika.connect(str(amqp_url(BROKER)))
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(stray, routing_key=client.queue_name)
    assert await client.call(topic, "add", a=1, b=1, timeout=5) == 2


@needs_broker
async def test_each_call_is_handled_by_exactly_one_of_two_servers(
    open_rabbit: Opener, names: Names
) -> None:
    topic = names.topic("conductor")
    first, second = Recorder("first"), Recorder("second")
    await (await open_rabbit("conductor-1")).serve(topic, first)
    await (await open_rabbit("conductor-2")).serve(topic, second)
    client = await open_rabbit("engine")
    vim_ids = [f"vim-{n}" for n in range(40)]
    answers = await asyncio.gather(
        *(client.call(topic, "update_vim", vim_id=v, status="UP", timeout=10) for v in vim_ids)
    )
    assert sorted(first.seen + second.seen) == sorted(vim_ids)
    assert first.seen and second.seen
    assert answers.count("first") == len(first.seen)


DOOMED_SERVER = """
import asyncio, sys
from vimwatch.messaging.rabbit import RabbitTransport

class Stuck:
    methods = ("update_vim",)

    async def update_vim(self, vim_id, status):
        print("received", vim_id, flush=True)
        await asyncio.Event().wait()

async def main():
    transport = RabbitTransport(sys.argv[1], process_name="doomed", exchange=sys.argv[2])
    await transport.start()
    await transport.serve(sys.argv[3], Stuck())
    print("serving", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@needs_broker
async def test_a_call_whose_server_dies_before_acking_is_answered_by_another(
    open_rabbit: Opener, names: Names
) -> None:
    topic = names.topic("conductor")
    doomed = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DOOMED_SERVER, BROKER, names.exchange, topic,
        cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(15):
            assert await doomed.stdout.readline() == b"serving\n"
        client = await open_rabbit("engine")
        call = asyncio.create_task(
            client.call(topic, "update_vim", vim_id="v1", status="UP", timeout=15, retries=0)
        )
        async with asyncio.timeout(10):
            assert await doomed.stdout.readline() == b"received v1\n"
        survivor = Recorder("survivor")
        await (await open_rabbit("conductor-2")).serve(topic, survivor)
        assert survivor.seen == []
        doomed.kill()
        assert await call == "survivor"
        assert survivor.seen == ["v1"]
    finally:
        if doomed.returncode is None:
            doomed.kill()
        await doomed.wait()


# Casts and bindings


@needs_broker
@needs_rabbitmqctl
async def test_bindings_follow_bind_and_unbind_on_one_queue_per_process(
    open_rabbit: Opener, names: Names
) -> None:
    engine, api = await open_rabbit("engine"), await open_rabbit("api")
    for vim_id in ("v1", "v2", "v3"):
        await engine.bind(f"KILL_ACTION.{vim_id}", Inbox())
    await engine.bind("vimwatch.engine", Inbox())
    assert sorted(await process_queues(names.exchange)) == sorted(
        [engine.queue_name, api.queue_name]
    )
    assert engine.queue_name.startswith(f"{names.exchange}.engine.")
    assert await bindings(names.exchange) == {
        (engine.queue_name, "KILL_ACTION.v1"),
        (engine.queue_name, "KILL_ACTION.v2"),
        (engine.queue_name, "KILL_ACTION.v3"),
        (engine.queue_name, "vimwatch.engine"),
    }
    await engine.unbind("KILL_ACTION.v2")
    await engine.unbind("KILL_ACTION.never-bound")
    assert await bindings(names.exchange) == {
        (engine.queue_name, "KILL_ACTION.v1"),
        (engine.queue_name, "KILL_ACTION.v3"),
        (engine.queue_name, "vimwatch.engine"),
    }


@needs_broker
async def test_a_cast_reaches_every_process_bound_to_it_and_none_after_unbind(
    open_rabbit: Opener,
) -> None:
    first, second, api = [await open_rabbit(name) for name in ("engine-1", "engine-2", "api")]
    first_inbox, second_inbox = Inbox(), Inbox()
    await first.bind("vimwatch.engine", first_inbox)
    await second.bind("vimwatch.engine", second_inbox)
    await api.cast("vimwatch.engine", "monitor_vim", vim_id="v1")
    await first_inbox.wait_for(1)
    await second_inbox.wait_for(1)

    await second.unbind("vimwatch.engine")
    await second.bind("KILL_ACTION.v9", second_inbox)
    await api.cast("vimwatch.engine", "monitor_vim", vim_id="v2")
    await api.cast("KILL_ACTION.v9", "killAction")
    await first_inbox.wait_for(2)
    await second_inbox.wait_for(2)
    assert first_inbox.received == [("monitor_vim", "v1"), ("monitor_vim", "v2")]
    assert second_inbox.received == [("monitor_vim", "v1"), ("killAction", "")]


@needs_broker
async def test_a_cast_to_an_address_nobody_bound_is_dropped_silently(
    open_rabbit: Opener,
) -> None:
    engine, api = await open_rabbit("engine"), await open_rabbit("api")
    inbox = Inbox()
    await engine.bind("KILL_ACTION.v1", inbox)
    await api.cast("KILL_ACTION.gone", "killAction")
    await api.cast("KILL_ACTION.v1", "killAction")
    await inbox.wait_for(1)
    assert inbox.received == [("killAction", "")]


# Lifecycle


@needs_broker
async def test_close_leaves_no_task_behind(names: Names) -> None:
    topic = names.topic("conductor")
    transport = RabbitTransport(BROKER, process_name="engine", exchange=names.exchange)
    await transport.start()
    await transport.serve(topic, Calculator())
    await transport.bind("KILL_ACTION.v1", Inbox())
    assert await transport.call(topic, "add", a=1, b=1) == 2
    await transport.close()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - {asyncio.current_task()} == set()
    with pytest.raises(MessagingError, match="not started"):
        await transport.cast("KILL_ACTION.v1", "killAction")


@needs_broker
async def test_closing_the_transport_ends_its_pending_calls(
    open_rabbit: Opener, names: Names
) -> None:
    topic = names.topic("conductor")
    await (await open_rabbit("conductor")).serve(topic, Calculator())
    client = await open_rabbit("engine")
    pending = asyncio.create_task(client.call(topic, "wait_forever", timeout=30))
    await asyncio.sleep(0.2)
    await client.close()
    async with asyncio.timeout(2):
        with pytest.raises(MessagingError, match="transport closed"):
            await pending


@needs_broker
@needs_rabbitmqctl
@pytest.mark.shared_services
async def test_calls_and_casts_work_again_after_a_broker_restart(
    open_rabbit: Opener, names: Names
) -> None:
    topic = names.topic("conductor")
    conductor, engine = await open_rabbit("conductor"), await open_rabbit("engine")
    await conductor.serve(topic, Calculator())
    inbox = Inbox()
    await engine.bind("KILL_ACTION.v1", inbox)
    await engine.bind("KILL_ACTION.v2", inbox)
    assert await engine.call(topic, "add", a=1, b=2) == 3

    try:
        await rabbitmqctl("stop_app")
        await engine.unbind("KILL_ACTION.v2")
        during_outage = asyncio.create_task(
            engine.call(topic, "add", a=20, b=22, timeout=4, retries=4)
        )
    finally:
        await rabbitmqctl("start_app")

    assert await during_outage == 42
    restored = (engine.queue_name, "KILL_ACTION.v1")

    async def kill_action_v1_bound_again() -> bool:
        return restored in await bindings(names.exchange)

    await eventually(kill_action_v1_bound_again)
    assert await bindings(names.exchange) == {restored}, "an address unbound in the outage is back"
    assert sorted(await process_queues(names.exchange)) == sorted(
        [conductor.queue_name, engine.queue_name]
    )
    assert await engine.call(topic, "add", a=2, b=3, timeout=5) == 5
    await conductor.cast("KILL_ACTION.v1", "killAction")
    await inbox.wait_for(1)
