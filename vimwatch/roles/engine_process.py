"""The embedded default's engine process: the engine and its conductor, beside the api.

`vimwatch serve` starts this module as a child of its own, so that probing runs on a loop
and a GIL that no request handler shares: with the engine in the api's process, 200 API
clients made the loop over a second late and cut probing to 40 % of its schedule.

The api writes the settings as the first line of this process's stdin, then one JSON line
per cast (the wake and kill casts of the embedded backend), relayed here to the engine's
in-process transport. The conductor runs here too, so the engine's status reports stay
in-process calls. End of stdin means the api stopped (or died): the engine stops and
hands its leases back. The api's questions (vimwatch.roles.engine_control) arrive on the
socket whose descriptor is the second argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
from typing import Any

from vimwatch.conductor.status_changes import ConductorEndpoint
from vimwatch.config import Settings
from vimwatch.contract import CONDUCTOR_TOPIC
from vimwatch.messaging.base import Transport
from vimwatch.messaging.factory import open_transport
from vimwatch.metrics.collectors import metrics_registry
from vimwatch.metrics.loop_lag import LoopLag
from vimwatch.metrics.probes import ProbeStats
from vimwatch.roles.engine_control import EngineAnswers
from vimwatch.roles.runtime import open_engine, open_registry

LOG = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PR_SET_PDEATHSIG = 1


def secrets_revealed(settings: Settings) -> dict[str, Any]:
    """The settings as the engine process rebuilds them (secrets in clear: they go
    through a pipe only the two processes hold)."""
    values = settings.model_dump(mode="json")
    for name in type(settings).model_fields:
        secret = getattr(settings, name)
        if hasattr(secret, "get_secret_value"):
            values[name] = secret.get_secret_value()
    return values


def _die_with(parent: int) -> None:
    """Die at once when the api dies, however it dies (Linux), as the engine did when it
    ran in the api's process: a server restarted after a kill -9 must not find this one
    still probing, or handing back leases its successor (the same engine id) just took.
    A clean stop of the api comes as end of stdin instead, and hands the leases back."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the api died before the prctl took effect
        sys.exit(0)


async def _relay_casts(reader: asyncio.StreamReader, transport: Transport) -> None:
    """Until end of stdin: each line is one cast of the api's."""
    while line := await reader.readline():
        cast = json.loads(line)
        await transport.cast(cast["address"], cast["method"], **cast["kwargs"])


async def _run(channel: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    settings = Settings(**json.loads(await reader.readline()))
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT, force=True)
    registry = open_registry(settings, upgrade=False)
    transport = open_transport(settings.transport_url, process_name=f"engine.{settings.engine_id}")
    engine = open_engine(settings, registry, transport)
    probe_stats, loop_lag = ProbeStats(), LoopLag()
    engine.scheduler.probe_observers.append(probe_stats.record)
    collectors = metrics_registry(None, settings.metrics_per_vim, engine, probe_stats, loop_lag)
    answers = EngineAnswers(channel, engine, probe_stats, collectors)
    await transport.start()
    try:
        await transport.serve(CONDUCTOR_TOPIC, ConductorEndpoint(registry))
        await engine.start()
        loop_lag.start()
        LOG.info("engine process %d: %d monitors running", os.getpid(), len(engine.scheduler))
        answers.start()
        relay = asyncio.create_task(_relay_casts(reader, transport))
        signalled = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, signalled.set)
        stop = asyncio.create_task(signalled.wait())
        await asyncio.wait((relay, stop), return_when=asyncio.FIRST_COMPLETED)
        for task in (relay, stop):
            task.cancel()
        await asyncio.gather(relay, stop, return_exceptions=True)
        if relay.done() and not relay.cancelled() and relay.exception():
            LOG.error("the cast relay failed", exc_info=relay.exception())
    finally:
        await loop_lag.stop()
        await engine.stop()
        await transport.close()
        registry.db_engine.dispose()
        LOG.info("engine process %d stopped", os.getpid())


def main() -> None:
    parent, channel_fd = int(sys.argv[1]), int(sys.argv[2])
    _die_with(parent)
    channel = socket.socket(fileno=channel_fd)
    asyncio.run(_run(channel))


if __name__ == "__main__":
    main()
