"""Configuration picks the workflow backend in one place, and the mistral backend copes with
a Mistral that does not answer (a closed loopback port: the real failure, nothing faked)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from vimwatch.config import load_settings
from vimwatch.errors import InvalidConfig, ServiceUnavailable
from vimwatch.messaging.inprocess import InProcessTransport
from vimwatch.registry.database import Registry
from vimwatch.workflows.backends.embedded import EmbeddedBackend
from vimwatch.workflows.backends.factory import open_backend
from vimwatch.workflows.backends.mistral import MistralBackend

BROKER = "rabbit://guest:guest@127.0.0.1:5672/"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop in a thread of its own, as the api's loop is to its request threads."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def test_the_mistral_backend_needs_both_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIMWATCH_CONFIG", raising=False)
    with pytest.raises(InvalidConfig, match="mistral_url and transport_url"):
        load_settings(workflow_backend="mistral", transport_url=BROKER)
    with pytest.raises(InvalidConfig, match="mistral_url and transport_url"):
        load_settings(workflow_backend="mistral", mistral_url="http://127.0.0.1:8989/v2")


# Which backend a setting picks does not depend on the database: the registry on SQLite.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_setting_picks_the_backend(
    registry: Registry, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIMWATCH_CONFIG", raising=False)
    transport = InProcessTransport()
    embedded = open_backend(load_settings(), registry, transport, loop)
    assert isinstance(embedded, EmbeddedBackend) and embedded.engines_run_monitors
    assert embedded.reconcile_interval is None
    settings = load_settings(
        workflow_backend="mistral", mistral_url="http://127.0.0.1:8989/v2", transport_url=BROKER
    )
    mistral = open_backend(settings, registry, transport, loop)
    assert isinstance(mistral, MistralBackend) and not mistral.engines_run_monitors
    assert mistral.reconcile_interval == 60.0


def test_an_unreachable_mistral_fails_starts_clearly_and_asks_for_a_reconcile(
    loop: asyncio.AbstractEventLoop,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v2"
    backend = MistralBackend(url, InProcessTransport(), loop)
    assert not backend.missed_work()
    with pytest.raises(ServiceUnavailable, match="unreachable"):
        backend.start_monitoring("v1", "p", {"vim_id": "v1"})
    assert backend.missed_work()
    assert not backend.missed_work(), "the flag is handed over once"
    with pytest.raises(ServiceUnavailable):
        backend.vims_with_workflow()
    with pytest.raises(ServiceUnavailable):
        backend.monitored_vims()


def test_a_delete_while_mistral_is_unreachable_still_kills_the_monitor(
    loop: asyncio.AbstractEventLoop,
) -> None:
    killed: list[str] = []

    class Monitor:
        methods = ("killAction",)

        async def killAction(self) -> None:  # noqa: N802 - the wire name
            killed.append("v1")

    transport = InProcessTransport()
    asyncio.run_coroutine_threadsafe(transport.bind("KILL_ACTION.v1", Monitor()), loop).result(5)
    backend = MistralBackend(f"http://127.0.0.1:{closed_port()}/v2", transport, loop)
    backend.stop_monitoring("v1")
    assert killed == ["v1"]
    assert backend.missed_work(), "the leftover workflow is for the next reconcile"
