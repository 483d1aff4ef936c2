"""RabbitMQ transport for services mode: the conductor RPC and the kill / wake-up casts.

Calls travel through the default exchange to a durable queue named after the topic, so the
servers of a topic compete for them. A call is acked only once its reply is out: a server
that dies before that leaves the call to be redelivered to another one (the conductor's
update is idempotent, which is what makes a status change apply exactly once).

Casts travel through one durable direct exchange. Each process owns ONE exclusive queue;
binding an address adds a routing key to it, and the same queue receives the replies to the
process's own calls. The broker thus holds one queue per process, not one per VIM, and a
process that dies takes its queue and bindings with it.

aio-pika's robust connection re-declares queues and consumers after a broker restart. It
would re-apply bindings too, but it also resurrects a binding whose unbind failed during the
outage, and a deleted VIM must leave no binding behind. So this module keeps the bound
addresses itself and re-applies exactly those whenever its channel reopens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
    AbstractRobustQueue,
    ConsumerTag,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, PublishError
from yarl import URL

from vimwatch.errors import InvalidConfig
from vimwatch.messaging.base import Endpoint, MessagingError, Transport, dispatch
from vimwatch.secrets.quoting import WITHHELD, quotes_secret

LOG = logging.getLogger(__name__)

SCHEMES = ("rabbit", "amqp")
PREFETCH = 32
RECONNECT_INTERVAL = 1.0
BROKER_TIMEOUT = 5.0
RETRY_BACKOFF = 0.5
JSON = "application/json"


def amqp_url(url: str) -> URL:
    """Accept oslo.messaging's `rabbit://` spelling so existing deployment configs carry over."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in SCHEMES:
        raise InvalidConfig("a RabbitMQ transport URL starts with rabbit:// or amqp://")
    if "," in rest.partition("/")[0]:
        raise InvalidConfig("a transport URL names one broker host; several are not supported")
    try:
        return URL(url).with_scheme("amqp")
    except ValueError as exc:
        raise InvalidConfig(f"cannot parse the transport URL: {exc}") from None


def redacted(url: URL) -> str:
    """The URL as it may appear in logs and errors: never with its password."""
    return str(url.with_password("***")) if url.password else str(url)


def encode_request(method: str, kwargs: dict[str, Any]) -> bytes:
    try:
        return json.dumps({"method": method, "args": kwargs}).encode()
    except (TypeError, ValueError) as exc:
        raise MessagingError(f"cannot send {method}: arguments are not JSON ({exc})") from exc


def decode_request(body: bytes) -> tuple[str, dict[str, Any]]:
    try:
        request = json.loads(body)
    except ValueError as exc:
        raise MessagingError(f"request is not JSON: {exc}") from exc
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("method"), str)
        or not isinstance(request.get("args", {}), dict)
    ):
        raise MessagingError('request must be {"method": str, "args": {...}}')
    return request["method"], request.get("args", {})


@dataclass
class _Session:
    connection: AbstractRobustConnection
    consumer: AbstractRobustChannel
    publisher: AbstractRobustChannel
    exchange: AbstractRobustExchange
    queue: AbstractRobustQueue

    @property
    def connected(self) -> bool:
        return self.connection.connected.is_set()


class RabbitTransport(Transport):
    def __init__(
        self,
        url: str,
        *,
        process_name: str,
        exchange: str = "vimwatch",
        connect_timeout: float = 10.0,
    ) -> None:
        self._url = amqp_url(url)
        self._exchange_name = exchange
        self._connect_timeout = connect_timeout
        self.queue_name = f"{exchange}.{process_name}.{secrets.token_hex(4)}"
        self._session: _Session | None = None
        self._servers: dict[str, Endpoint] = {}
        self._server_consumers: dict[str, tuple[AbstractRobustQueue, ConsumerTag]] = {}
        self._addresses: dict[str, Endpoint] = {}
        self._binding_lock = asyncio.Lock()
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._reconnect_callbacks: list[Callable[[], Awaitable[None]]] = []

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await `callback` each time the channel reopens, once the bindings are back.

        Casts sent while this process was cut off never reached it; a caller that must not
        miss one (Mistral monitor actions announcing themselves) catches up here.
        """
        self._reconnect_callbacks.append(callback)

    async def start(self) -> None:
        if self._session is not None:
            return
        try:
            connection = await aio_pika.connect_robust(
                str(self._url),
                timeout=self._connect_timeout,
                reconnect_interval=RECONNECT_INTERVAL,
                client_properties={"connection_name": self.queue_name},
            )
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            raise MessagingError(
                f"cannot connect to RabbitMQ at {redacted(self._url)}: {self._scrub(exc)}"
            ) from None
        try:
            self._session = await self._open(connection)
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            await connection.close()
            raise MessagingError(
                f"cannot set up messaging on {redacted(self._url)}: {self._scrub(exc)}"
            ) from None
        LOG.info("messaging on %s as %s", redacted(self._url), self.queue_name)

    async def _open(self, connection: AbstractRobustConnection) -> _Session:
        consumer = await connection.channel(publisher_confirms=False)
        await consumer.set_qos(prefetch_count=PREFETCH)
        await consumer.declare_exchange(
            self._exchange_name, aio_pika.ExchangeType.DIRECT, durable=True
        )
        queue = await consumer.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        await queue.consume(self._on_own_message, no_ack=True)
        consumer.reopen_callbacks.add(self._on_reopen)
        publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await publisher.declare_exchange(
            self._exchange_name, aio_pika.ExchangeType.DIRECT, durable=True
        )
        return _Session(connection, consumer, publisher, exchange, queue)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        for answer in self._replies.values():
            if not answer.done():
                answer.set_result({"error": "transport closed"})
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if session.connected:
            for queue, tag in self._server_consumers.values():
                await self._quietly(queue.cancel(tag), f"cancel consumer of {queue.name}")
            # Closing each channel itself (not only the connection) waits for aio-pika's
            # close callbacks, so none of its tasks outlive this call.
            for channel in (session.consumer, session.publisher):
                await self._quietly(channel.close(), "close channel")
        await session.connection.close()
        self._server_consumers.clear()
        self._servers.clear()
        self._addresses.clear()

    async def serve(self, topic: str, endpoint: Endpoint) -> None:
        session = self._require()
        self._servers[topic] = endpoint
        if topic in self._server_consumers:
            return
        try:
            async with asyncio.timeout(BROKER_TIMEOUT):
                queue = await session.consumer.declare_queue(topic, durable=True)
                tag = await queue.consume(partial(self._on_call, topic))
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            del self._servers[topic]
            raise MessagingError(f"cannot serve {topic}: {exc}") from exc
        self._server_consumers[topic] = (queue, tag)

    async def call(
        self, topic: str, method: str, *, timeout: float = 10.0, retries: int = 2, **kwargs: Any
    ) -> Any:
        """Each of the 1 + `retries` attempts waits up to `timeout`; all share one correlation
        id, so a late answer to an earlier attempt still counts."""
        session = self._require()
        body = encode_request(method, kwargs)
        correlation_id = uuid.uuid4().hex
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[correlation_id] = answer
        try:
            failure = ""
            for attempt in range(retries + 1):
                if attempt:
                    LOG.warning("call %s.%s: %s; retrying", topic, method, failure)
                    await asyncio.sleep(RETRY_BACKOFF * attempt)
                try:
                    async with asyncio.timeout(timeout):
                        await session.publisher.default_exchange.publish(
                            aio_pika.Message(
                                body,
                                content_type=JSON,
                                correlation_id=correlation_id,
                                reply_to=self.queue_name,
                                expiration=timeout,
                            ),
                            routing_key=topic,
                            mandatory=True,
                        )
                        reply = await asyncio.shield(answer)
                except TimeoutError:
                    failure = f"no answer within {timeout}s"
                except PublishError:
                    failure = f"no server for topic {topic!r}"
                except CONNECTION_EXCEPTIONS as exc:
                    failure = f"broker unavailable ({exc})"
                else:
                    if "error" in reply:
                        raise MessagingError(reply["error"])
                    return reply.get("result")
            raise MessagingError(f"{topic}.{method} failed after {retries + 1} attempts: {failure}")
        finally:
            self._replies.pop(correlation_id, None)

    async def cast(self, address: str, method: str, **kwargs: Any) -> None:
        session = self._require()
        body = encode_request(method, kwargs)
        try:
            async with asyncio.timeout(BROKER_TIMEOUT):
                await session.exchange.publish(
                    aio_pika.Message(body, content_type=JSON), routing_key=address, mandatory=False
                )
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            raise MessagingError(f"cast {method} to {address}: broker unavailable ({exc})") from exc

    async def bind(self, address: str, endpoint: Endpoint) -> None:
        """Never fails for a broker outage: the address is re-bound when the broker is back."""
        session = self._require()
        async with self._binding_lock:
            already = address in self._addresses
            self._addresses[address] = endpoint
            if not already and session.connected:
                await self._quietly(
                    session.queue.bind(self._exchange_name, address, robust=False),
                    f"bind {address}",
                )

    async def unbind(self, address: str) -> None:
        """Never fails for a broker outage: the queue re-created on reconnect lacks the binding."""
        session = self._require()
        async with self._binding_lock:
            if self._addresses.pop(address, None) is None:
                return
            if session.connected:
                await self._quietly(
                    session.queue.unbind(self._exchange_name, address), f"unbind {address}"
                )

    def _on_reopen(self, _channel: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._rebind())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _rebind(self) -> None:
        session = self._session
        if session is None:
            return
        async with self._binding_lock:
            addresses = list(self._addresses)
            for address in addresses:
                await self._quietly(
                    session.queue.bind(self._exchange_name, address, robust=False),
                    f"re-bind {address}",
                )
        LOG.info("messaging channel reopened; re-bound %d address(es)", len(addresses))
        for callback in self._reconnect_callbacks:
            try:
                await callback()
            except Exception:
                LOG.exception("reconnect callback failed")

    async def _on_own_message(self, message: AbstractIncomingMessage) -> None:
        if message.exchange == self._exchange_name:
            await self._on_cast(message)
        else:
            self._on_reply(message)

    def _on_reply(self, message: AbstractIncomingMessage) -> None:
        answer = self._replies.get(message.correlation_id or "")
        if answer is None or answer.done():
            LOG.debug("dropping a reply for unknown call %s", message.correlation_id)
            return
        try:
            reply = json.loads(message.body)
        except ValueError:
            reply = None
        if isinstance(reply, dict) and ("result" in reply or isinstance(reply.get("error"), str)):
            answer.set_result(reply)
        else:
            answer.set_result({"error": "malformed reply"})

    async def _on_cast(self, message: AbstractIncomingMessage) -> None:
        address = message.routing_key or ""
        endpoint = self._addresses.get(address)
        if endpoint is None:
            LOG.debug("cast to %s arrived after its unbind; dropped", address)
            return
        try:
            method, args = decode_request(message.body)
            await dispatch(endpoint, method, args)
        except Exception:
            LOG.exception("cast to %s failed", address)

    async def _on_call(self, topic: str, message: AbstractIncomingMessage) -> None:
        """Ack only after the reply is out, so a server that dies mid-call loses nothing."""
        try:
            method, args = decode_request(message.body)
            result = await dispatch(self._servers[topic], method, args)
            body = json.dumps({"result": result}).encode()
        except Exception as exc:
            body = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode()
        session = self._session
        if session is None:
            return
        try:
            if message.reply_to:
                await session.publisher.default_exchange.publish(
                    aio_pika.Message(
                        body, content_type=JSON, correlation_id=message.correlation_id
                    ),
                    routing_key=message.reply_to,
                    mandatory=False,
                )
            await message.ack()
        except CONNECTION_EXCEPTIONS as exc:
            LOG.warning("call on %s not acknowledged, it will be redelivered: %s", topic, exc)

    async def _quietly(self, operation: Awaitable[Any], what: str) -> None:
        try:
            async with asyncio.timeout(BROKER_TIMEOUT):
                await operation
        except (TimeoutError, *CONNECTION_EXCEPTIONS) as exc:
            LOG.warning("%s: broker unavailable (%s); settled on reconnect", what, exc)

    def _require(self) -> _Session:
        if self._session is None:
            raise MessagingError("transport is not started")
        return self._session

    def _scrub(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return WITHHELD if quotes_secret(text, [self._url.password]) else text
