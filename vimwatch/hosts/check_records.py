"""Keeps the registry's picture of each check (the `checks` of a VIM's view) up to date.

The checks' states live in the engine's memory, but the view is served by the api, maybe
on another machine, so the engine writes them down: every few seconds, in one batch, the
checks whose state or reason changed since last written, and the others once a minute
(so `last_success` of a passing check is at most a minute old). Only VIMs with several
checks are recorded; the others keep the seed's behaviour and cost nothing here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from vimwatch.check_names import API
from vimwatch.monitor.checks.runner import FAILING, PASSING, PENDING, ApiChecks
from vimwatch.monitor.scheduler import Scheduler
from vimwatch.registry.checks import CheckRecord, write_checks
from vimwatch.registry.database import Registry

LOG = logging.getLogger(__name__)
RECORD_EVERY = 2.0
REFRESH_AFTER = 60.0
_YIELD_EVERY = 1000


@dataclass(slots=True)
class _ProbeMemory:
    """The probe's state as last seen, with its times (the scheduler keeps no times)."""

    state: str = PENDING
    reason: str = ""
    last_success: datetime | None = None
    last_failure: datetime | None = None


class CheckRecorder:
    def __init__(
        self,
        registry: Registry,
        scheduler: Scheduler,
        api_checks: ApiChecks,
        probe_of: Callable[[str], str | None],
    ) -> None:
        self._registry = registry
        self._scheduler = scheduler
        self._api = api_checks
        self._probe_of = probe_of
        self._probes: dict[str, _ProbeMemory] = {}
        # What was last written per (vim, check): (state, reason), and when.
        self._written: dict[tuple[str, str], tuple[str, str, float]] = {}
        self._task: asyncio.Task[None] | None = None

    def forget(self, vim_id: str) -> None:
        self._probes.pop(vim_id, None)
        for name in [key for key in self._written if key[0] == vim_id]:
            del self._written[name]

    def probe_memory(self, vim_id: str) -> _ProbeMemory:
        return self._probes.setdefault(vim_id, _ProbeMemory())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(RECORD_EVERY)
            try:
                await self.record()
            except SQLAlchemyError as exc:
                LOG.warning("could not record check states: %s", type(exc).__name__)

    async def record(self) -> None:
        """Write the checks that changed or grew old, in one transaction."""
        now = asyncio.get_running_loop().time()
        wall = datetime.now(UTC).replace(tzinfo=None)
        due = []
        for index, vim_id in enumerate(self._api.vims()):
            if index % _YIELD_EVERY == _YIELD_EVERY - 1:
                # Ten thousand VIMs take tens of milliseconds: let due probes go out.
                await asyncio.sleep(0)
            probe = self._probe_of(vim_id)
            if probe is None:
                continue
            for record in (self._probe_record(vim_id, probe, wall), self._api_record(vim_id)):
                if record is None:
                    continue
                key = (vim_id, record.name)
                last = self._written.get(key)
                if (
                    last is None
                    or last[:2] != (record.state, record.reason)
                    or now - last[2] >= REFRESH_AFTER
                ):
                    due.append(record)
        if not due:
            return
        await asyncio.to_thread(self._write, due, wall)
        for record in due:
            self._written[(record.vim_id, record.name)] = (record.state, record.reason, now)

    def _write(self, records: list[CheckRecord], wall: datetime) -> None:
        with self._registry.transaction() as session:
            write_checks(session, records, wall)

    def _probe_record(self, vim_id: str, probe: str, wall: datetime) -> CheckRecord | None:
        seen = self._scheduler.probe_state(vim_id)
        if seen is None:
            return None
        ok, reason = seen
        memory = self.probe_memory(vim_id)
        if ok:
            memory.state, memory.reason, memory.last_success = PASSING, "", wall
        elif ok is False:
            memory.state, memory.reason, memory.last_failure = FAILING, reason, wall
        return CheckRecord(
            vim_id,
            probe,
            memory.state,
            memory.reason,
            self._scheduler.rtt_of(vim_id),
            memory.last_success,
            memory.last_failure,
        )

    def _api_record(self, vim_id: str) -> CheckRecord | None:
        state = self._api.state_of(vim_id)
        if state is None:
            return None
        return CheckRecord(
            vim_id,
            API,
            state.state,
            state.reason,
            state.latency,
            state.last_success,
            state.last_failure,
        )
