"""Serving the API with uvicorn, stopping the way vimwatch.api.draining describes.

uvicorn stops listening on SIGTERM and gives the requests in flight its graceful-shutdown
timeout before it cancels them; this server also tells the app's `Drain` as soon as the
signal arrives, so that requests reaching it after the signal get a 503 rather than a
half-served answer, and so that event streams end at once instead of holding the server
for the whole grace period.
"""

from __future__ import annotations

import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from vimwatch.api.draining import Drain
from vimwatch.api.header_limits import BoundedHttpToolsProtocol
from vimwatch.config import Settings


class _DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self._drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: only a flag here; the rest happens on the loop, in shutdown.
        self._drain.stopping = True
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._drain.stop()
        await super().shutdown(sockets)


def serve_api(app: FastAPI, settings: Settings, listener: socket.socket) -> None:
    """Serve on `listener` (bound before any start-up work) until SIGTERM or SIGINT, then
    stop within `settings.shutdown_grace`."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        # uvicorn types it int, but waits on it as a float; a fraction of a second is kept.
        timeout_graceful_shutdown=settings.shutdown_grace,  # type: ignore[arg-type]
        http=BoundedHttpToolsProtocol,
    )
    _DrainingServer(config, app.state.drain).run(sockets=[listener])
