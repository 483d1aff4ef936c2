"""/metrics for the processes that serve no HTTP of their own: engines and conductors.

prometheus_client's own small WSGI server runs in a daemon thread, so a scrape never
waits on the event loop that runs the probes, and a busy loop still gets scraped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, start_http_server

from vimwatch.errors import InvalidConfig

LOG = logging.getLogger(__name__)


@contextmanager
def serving_metrics(collectors: CollectorRegistry, host: str, port: int | None) -> Iterator[None]:
    """Serve `collectors` on host:port while the block runs; nothing when port is None."""
    if port is None:
        yield
        return
    try:
        server, thread = start_http_server(port, addr=host, registry=collectors)
    except OSError as exc:
        raise InvalidConfig(f"cannot serve /metrics on {host}:{port}: {exc.strerror}") from None
    LOG.info("serving /metrics on http://%s:%d/metrics", host, server.server_port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
