"""Engines and conductors serve /metrics on a port of their own, or not at all."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from tests.service import free_port
from vimwatch.errors import InvalidConfig
from vimwatch.metrics.exporter import serving_metrics


def collectors_with(name: str) -> CollectorRegistry:
    collectors = CollectorRegistry()
    Counter(name, "a counter the test reads back", registry=collectors).inc(3)
    return collectors


def test_serves_the_collectors_while_the_block_runs_and_stops_after() -> None:
    port = free_port()
    with serving_metrics(collectors_with("seen"), "127.0.0.1", port):
        body = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "seen_total 3.0" in body
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics")


def test_a_port_in_use_is_a_clear_configuration_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        clash = pytest.raises(InvalidConfig, match=f"cannot serve /metrics on 127.0.0.1:{port}")
        with clash, serving_metrics(collectors_with("clash"), "127.0.0.1", port):
            pytest.fail("served /metrics on a port another socket holds")
