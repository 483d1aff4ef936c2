"""The api's hold on the embedded default's engine process: start it, restart it, stop it.

The engine process (vimwatch.roles.engine_process) dies with the api. If it dies first,
the api logs it, says so on /healthz, and starts another: the new one takes the same
engine id's leases back and its monitors resume where the database says they were.
Casts reach it through its stdin (`EngineCasts`), questions through the socket pair of
vimwatch.roles.engine_control. The first engine process is started before the api's own
start-up work (vimwatch.roles.engine_child) and taken on here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
from typing import Any

from prometheus_client.core import Metric

from vimwatch.api.engine_view import EngineStatus, NoAnswer
from vimwatch.config import Settings
from vimwatch.errors import VimwatchError
from vimwatch.messaging.base import Endpoint, MessagingError, Transport
from vimwatch.metrics.probes import RecentProbe
from vimwatch.roles.engine_child import EngineChild
from vimwatch.roles.engine_control import EngineQuestions
from vimwatch.roles.engine_process import secrets_revealed

LOG = logging.getLogger(__name__)
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
# Where the two compete for a core, probes come first: the api's threads (this one and
# every one it starts later) run this much nicer than the engine process launched first.
# An engine process restarted later inherits the api's niceness (raising it back needs
# privileges), so it then competes as an equal.
API_NICENESS = 5
STOP_MARGIN = 10.0  # beyond the shutdown grace, for the engine to hand its leases back


class EngineProcess:
    def __init__(self, settings: Settings, first: EngineChild) -> None:
        """`first`: the engine process started before the api's start-up work."""
        self._settings = settings
        self._first: EngineChild | None = first
        self._process: EngineChild | None = None
        self._questions: EngineQuestions | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        #: Why the engine process is not running now, or None while it runs.
        self.problem: str | None = "the engine process has not started yet"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def launch(self) -> None:
        """Give the first engine process its settings without waiting for it: it loads
        while the api finishes starting up. Casts sent meanwhile wait in its stdin."""
        self._process, self._questions = await self._launch()
        os.nice(API_NICENESS)

    async def start(self) -> None:
        """Wait until the launched engine process's monitors run, then watch over it."""
        if self._process is None or self._questions is None:
            raise VimwatchError("the engine process was not launched")
        await self._until_ready(self._process, self._questions)
        self._watcher = asyncio.create_task(self._watch())

    async def _launch(self) -> tuple[EngineChild, EngineQuestions]:
        """The first engine process, else a new one (a restart), told its settings."""
        process, self._first = self._first or EngineChild(), None
        stdin = await process.stdin()
        stdin.write(json.dumps(secrets_revealed(self._settings)).encode() + b"\n")
        return process, EngineQuestions(process.channel)

    async def _until_ready(self, process: EngineChild, questions: EngineQuestions) -> None:
        try:
            ready = await asyncio.to_thread(questions.wait_ready)
        except asyncio.CancelledError:  # the api stops while the engine process starts
            questions.close()
            process.kill()
            await process.wait()
            raise
        if not ready:
            questions.close()
            code = await process.wait()
            raise VimwatchError(f"the engine process exited with code {code} as it started")
        self.problem = None

    async def _spawn(self) -> EngineChild:
        process, questions = await self._launch()
        self._process, self._questions = process, questions
        await self._until_ready(process, questions)
        return process

    async def _watch(self) -> None:
        process, questions = self._process, self._questions
        while process is not None and questions is not None:
            code = await process.wait()
            if self._stopping:
                return
            questions.close()
            self.problem = f"the engine process exited with code {code}; restarting it"
            LOG.error("%s", self.problem)
            for attempt in itertools.count():
                await asyncio.sleep(RESTART_DELAYS[min(attempt, len(RESTART_DELAYS) - 1)])
                try:
                    process = await self._spawn()
                except VimwatchError as exc:
                    self.problem = f"{exc}; restarting it"
                    LOG.error("%s", self.problem)
                    continue
                questions = self._questions
                LOG.info("engine process restarted (pid %d)", process.pid)
                break

    async def stop(self) -> None:
        """End of stdin stops the engine process; a stuck one is killed."""
        self._stopping = True
        if self._watcher:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            (await process.stdin()).close()
            try:
                await asyncio.wait_for(process.wait(), self._settings.shutdown_grace + STOP_MARGIN)
            except TimeoutError:
                LOG.error("the engine process did not stop; killing it")
                process.kill()
                await process.wait()
        if self._questions is not None:
            self._questions.close()

    async def cast(self, address: str, method: str, kwargs: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            LOG.debug("cast %s to %s: no engine process (its audit catches up)", method, address)
            return
        line = json.dumps({"address": address, "method": method, "kwargs": kwargs})
        stdin = await process.stdin()
        try:
            stdin.write(line.encode() + b"\n")
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            LOG.debug("cast %s to %s: the engine process is gone", method, address)

    def _ask(self) -> EngineQuestions:
        if self.problem or self._questions is None:
            raise NoAnswer(self.problem or "no engine process")
        return self._questions

    def status(self, timeout: float = 0.5) -> EngineStatus:
        """From a worker thread; NoAnswer says why there is none."""
        return self._ask().status(timeout)

    def metric_families(self, timeout: float = 2.0) -> list[Metric]:
        """The engine process's /metrics families; none while it does not answer."""
        try:
            return self._ask().metric_families(timeout)
        except NoAnswer as exc:
            LOG.warning("/metrics without the engine's figures: %s", exc)
            return []

    def recent(self, vim_ids: list[str], timeout: float = 1.0) -> dict[str, list[RecentProbe]]:
        """The latest probe results of these VIMs; none while the engine does not answer."""
        try:
            return self._ask().recent(vim_ids, timeout)
        except NoAnswer:
            return {}


class EngineCasts(Transport):
    """The api's transport on the embedded default: its only messages are casts to the
    engine process (wake and kill); the conductor runs in that process."""

    def __init__(self, engine: EngineProcess) -> None:
        self._engine = engine

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def serve(self, topic: str, endpoint: Endpoint) -> None:
        raise MessagingError("the api process serves no topic on the embedded default")

    async def call(self, topic: str, method: str, *, timeout: float = 10.0, **kwargs: Any) -> Any:
        raise MessagingError(f"no server for topic {topic!r} in the api process")

    async def cast(self, address: str, method: str, **kwargs: Any) -> None:
        await self._engine.cast(address, method, kwargs)

    async def bind(self, address: str, endpoint: Endpoint) -> None:
        raise MessagingError("the api process binds no address on the embedded default")

    async def unbind(self, address: str) -> None:
        return None
