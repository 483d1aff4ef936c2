"""Runs the API checks of an engine's VIMs, each at its own interval, a bounded number at once.

The API check is slow and costly next to a probe (a TLS connection, a login now and then),
so it has its own schedule beside the probes' wheels, on an event loop of its own in a
thread: one task sleeps until the next check falls due and starts those due, at most
`concurrency` at a time. A VIM whose login is
refused is backed off: at most one failed login per interval, the wait doubling up to 15
minutes, so a wrong password never locks the cloud's account. Its credentials are read
again every interval meanwhile, and a change (`vim update`) ends the backoff at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from vimwatch.monitor.checks.keystone import KeystoneAccess, KeystoneCheck
from vimwatch.monitor.checks.kubernetes import KubernetesAccess, KubernetesCheck
from vimwatch.monitor.checks.result import CheckResult

LOG = logging.getLogger(__name__)
#: The longest a VIM whose login is refused waits between two logins.
MAX_BACKOFF = 900.0
#: How long after being added a VIM's first check may wait, at most: spreads a fleet's
#: first logins instead of sending them all in the same second.
FIRST_SPREAD = 5.0
PENDING, PASSING, FAILING = "pending", "passing", "failing"


@dataclass(frozen=True, slots=True)
class ApiSettings:
    interval: float = 60.0
    timeout: float = 10.0
    down_after: int = 1
    up_after: int = 1
    endpoints: bool = False


@dataclass(frozen=True, slots=True)
class VimAccess:
    """A VIM's credentials as its check needs them, and a fingerprint that changes when
    they do (so a `vim update` is noticed without comparing secrets)."""

    access: KeystoneAccess | KubernetesAccess
    fingerprint: str


class VimGone(Exception):
    """The VIM no longer exists: its check stops."""


#: Opens a VIM's credentials (in the registry, for the engine); raises VimGone.
LoadAccess = Callable[[str], Awaitable[VimAccess]]


@dataclass(slots=True)
class CheckState:
    """What the VIM's view shows of its API check."""

    state: str = PENDING
    last_success: datetime | None = None
    last_failure: datetime | None = None
    reason: str = ""
    latency: float | None = None


class _ApiMonitor:
    __slots__ = (
        "vim_id",
        "settings",
        "check",
        "access",
        "state",
        "successes",
        "failures",
        "backoff",
        "login_after",
        "in_flight",
        "stopped",
        "last",
    )

    def __init__(self, vim_id: str, settings: ApiSettings) -> None:
        self.vim_id = vim_id
        self.settings = settings
        self.check: KeystoneCheck | KubernetesCheck | None = None
        self.access: VimAccess | None = None
        self.state = CheckState()
        self.successes = 0
        self.failures = 0
        self.backoff = 0.0
        self.login_after = 0.0
        self.in_flight = False
        self.stopped = False
        self.last: CheckResult | None = None

    @property
    def margin(self) -> float:
        """Renew a token this long before it expires: it must outlive the next check."""
        return self.settings.interval + self.settings.timeout

    def needs_login(self) -> bool:
        if self.check is None or self.access is None:
            return True
        check, credentials = self.check, self.access.access
        if isinstance(check, KeystoneCheck):
            return check.needs_login(self.margin)
        if isinstance(credentials, KubernetesAccess):
            return check.needs_login(self.margin, credentials)
        return True


async def _run_check(
    check: KeystoneCheck | KubernetesCheck,
    client: httpx.AsyncClient,
    credentials: KeystoneAccess | KubernetesAccess,
    settings: ApiSettings,
    margin: float,
) -> CheckResult:
    """The check of the VIM's type with its own kind of credentials (they are made in
    pairs, from the same type, when the credentials are read)."""
    timeout, endpoints = settings.timeout, settings.endpoints
    if isinstance(check, KeystoneCheck) and isinstance(credentials, KeystoneAccess):
        return await check.run(
            client, credentials, timeout=timeout, margin=margin, endpoints=endpoints
        )
    if isinstance(check, KubernetesCheck) and isinstance(credentials, KubernetesAccess):
        return await check.run(
            client, credentials, timeout=timeout, margin=margin, endpoints=endpoints
        )
    raise TypeError(f"{type(check).__name__} cannot use {type(credentials).__name__}")


class ApiChecks:
    """The API checks of one engine. `on_change(vim_id)` is called, on the loop, when a
    VIM's check turns passing or failing; `verdict` then tells which."""

    def __init__(
        self,
        load_access: LoadAccess,
        on_change: Callable[[str], None],
        *,
        concurrency: int = 64,
    ) -> None:
        self._load_access = load_access
        self._on_change = on_change
        self._concurrency = concurrency
        self._monitors: dict[str, _ApiMonitor] = {}
        self._due: list[tuple[float, int, _ApiMonitor]] = []
        self._sequence = 0
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._clients: dict[object, httpx.AsyncClient] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # The checks run on a loop of their own, in a thread: a check's HTTP and TLS work
        # then never queues in front of the probes on the engine's loop (`home`).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._home: asyncio.AbstractEventLoop | None = None
        #: Counters for /metrics and the bench.
        self.logins = 0
        self.failed_logins = 0
        self.checks_run = 0
        self.checks_failed = 0
        self.latency_total = 0.0

    def __len__(self) -> int:
        return len(self._monitors)

    def __contains__(self, vim_id: object) -> bool:
        return vim_id in self._monitors

    async def start(self) -> None:
        self._home = asyncio.get_running_loop()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="vimwatch-api-checks", daemon=True
        )
        self._thread.start()
        await self._in_checks_loop(self._begin())

    async def _begin(self) -> None:
        self._loop_task = asyncio.create_task(self._run())

    async def _in_checks_loop(self, coroutine: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def close(self) -> None:
        for monitor in list(self._monitors.values()):
            monitor.stopped = True
        self._monitors.clear()
        if self._loop is None:
            return
        await self._in_checks_loop(self._end())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        self._loop.close()
        self._loop, self._thread = None, None

    async def _end(self) -> None:
        tasks = [*self._tasks, *([self._loop_task] if self._loop_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def add(self, vim_id: str, settings: ApiSettings) -> None:
        """Called on the engine's loop, after `start`."""
        assert self._loop is not None, "ApiChecks.start() must be awaited before add()"
        self.remove(vim_id)
        monitor = _ApiMonitor(vim_id, settings)
        self._monitors[vim_id] = monitor
        delay = random.uniform(0, min(settings.interval, FIRST_SPREAD))
        self._loop.call_soon_threadsafe(self._schedule, monitor, delay)

    def remove(self, vim_id: str) -> None:
        monitor = self._monitors.pop(vim_id, None)
        if monitor is not None:
            monitor.stopped = True

    def verdict(self, vim_id: str) -> str | None:
        """None while the check passes (or the VIM has none), "" before its first verdict,
        else the reason it fails."""
        monitor = self._monitors.get(vim_id)
        if monitor is None or monitor.state.state == PASSING:
            return None
        return "" if monitor.state.state == PENDING else monitor.state.reason

    def state_of(self, vim_id: str) -> CheckState | None:
        monitor = self._monitors.get(vim_id)
        return None if monitor is None else monitor.state

    def vims(self) -> list[str]:
        return list(self._monitors)

    async def drain(self) -> None:
        """Stop every check and wait for those running to end: their logins are then all
        counted (for a clean count at the end of a measurement)."""
        for vim_id in list(self._monitors):
            self.remove(vim_id)
        await self._in_checks_loop(self._settle())

    async def _settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def states(self) -> dict[str, int]:
        """How many VIMs' API checks are pending, passing and failing."""
        counts = dict.fromkeys((PENDING, PASSING, FAILING), 0)
        for monitor in list(self._monitors.values()):
            counts[monitor.state.state] += 1
        return counts

    def _schedule(self, monitor: _ApiMonitor, delay: float) -> None:
        self._sequence += 1
        heapq.heappush(self._due, (time.monotonic() + delay, self._sequence, monitor))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            while self._due and self._due[0][0] <= now:
                _, _, monitor = heapq.heappop(self._due)
                if monitor.stopped:
                    continue
                interval = monitor.settings.interval
                if monitor.last is None and not monitor.in_flight:
                    # After the first check (soon after the VIM was added, for a prompt
                    # verdict), a random phase within the interval: a fleet added at once
                    # is then checked evenly, not in one burst per interval.
                    self._schedule(monitor, random.uniform(0, interval))
                else:
                    self._schedule(monitor, interval)
                if monitor.in_flight:
                    continue
                monitor.in_flight = True
                task = asyncio.create_task(self._check(monitor))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            self._wake.clear()
            wait = self._due[0][0] - time.monotonic() if self._due else None
            if wait is None or wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def _check(self, monitor: _ApiMonitor) -> None:
        try:
            async with self._slots:
                if monitor.stopped:
                    return
                result = await self._run_check(monitor)
        except VimGone:
            monitor.stopped = True
            if self._monitors.get(monitor.vim_id) is monitor:
                self._monitors.pop(monitor.vim_id, None)
            return
        except Exception as exc:  # noqa: BLE001 - a check's own bug must not end the loop
            LOG.exception("API check of VIM %s failed unexpectedly", monitor.vim_id)
            result = CheckResult(False, f"check error: {type(exc).__name__}")
        finally:
            monitor.in_flight = False
        if not monitor.stopped:
            self._record(monitor, result)

    async def _run_check(self, monitor: _ApiMonitor) -> CheckResult:
        settings = monitor.settings
        if monitor.access is None or monitor.needs_login() or _refused(monitor.last):
            # Read the credentials again only when about to log in, or while refused:
            # once per token lifetime, or once per interval of a backed-off VIM.
            try:
                access = await self._load_access(monitor.vim_id)
            except VimGone:
                raise
            except Exception as exc:  # noqa: BLE001 - reported as the check's failure
                return CheckResult(False, f"cannot open the VIM's credentials: {exc}")
            if monitor.access is None or access.fingerprint != monitor.access.fingerprint:
                monitor.check = (
                    KeystoneCheck()
                    if isinstance(access.access, KeystoneAccess)
                    else KubernetesCheck()
                )
                monitor.backoff, monitor.login_after = 0.0, 0.0
            monitor.access = access
        if monitor.needs_login() and time.monotonic() < monitor.login_after:
            # Backed off: the last refusal stands, and the cloud hears nothing.
            reason = monitor.last.reason if monitor.last else "authentication failed"
            return CheckResult(False, reason, 0.0, auth_failed=True)
        check, credentials = monitor.check, monitor.access.access
        assert check is not None  # set with the access above
        client = self._client(credentials.verify)
        sent_before = check.logins_sent
        try:
            async with asyncio.timeout(settings.timeout):
                result = await _run_check(check, client, credentials, settings, monitor.margin)
        except TimeoutError:
            result = CheckResult(False, f"timed out after {settings.timeout:g}s", settings.timeout)
        sent = check.logins_sent - sent_before
        self.logins += sent
        refused = result.auth_failed and result.logins
        # A login cut short by the timeout after a refused one may have been refused too
        # (the cloud counted it even if no answer came back): the backoff goes on.
        unanswered = sent and not result.ok and not result.auth_failed and monitor.backoff
        if refused or unanswered:
            self.failed_logins += 1 if refused else 0
            monitor.backoff = min(max(monitor.backoff * 2, settings.interval), MAX_BACKOFF)
            # Half an interval of slack: the run that falls due after the wait may log in.
            monitor.login_after = time.monotonic() + monitor.backoff - settings.interval / 2
            LOG.warning(
                "VIM %s: login %s; next login in %.0fs at the earliest",
                monitor.vim_id,
                "refused" if refused else "unanswered after a refusal",
                monitor.backoff,
            )
        elif result.ok:
            monitor.backoff, monitor.login_after = 0.0, 0.0
        return result

    def _client(self, verify: object) -> httpx.AsyncClient:
        client = self._clients.get(verify)
        if client is None:
            limits = httpx.Limits(
                max_connections=self._concurrency, max_keepalive_connections=self._concurrency
            )
            client = httpx.AsyncClient(verify=verify, limits=limits)  # type: ignore[arg-type]
            self._clients[verify] = client
        return client

    def _record(self, monitor: _ApiMonitor, result: CheckResult) -> None:
        self.checks_run += 1
        self.latency_total += result.latency
        monitor.last = result
        state = monitor.state
        now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as the registry keeps it
        if result.ok:
            state.last_success, state.latency = now, result.latency
            monitor.failures = 0
            monitor.successes = min(monitor.successes + 1, monitor.settings.up_after)
            turned = monitor.successes >= monitor.settings.up_after and state.state != PASSING
            if turned:
                state.state, state.reason = PASSING, ""
        else:
            self.checks_failed += 1
            state.last_failure, state.reason = now, result.reason
            if result.latency:
                state.latency = result.latency
            monitor.successes = 0
            monitor.failures = min(monitor.failures + 1, monitor.settings.down_after)
            turned = monitor.failures >= monitor.settings.down_after and state.state != FAILING
            if turned:
                state.state = FAILING
        if turned:
            LOG.info(
                "VIM %s: API check %s%s",
                monitor.vim_id,
                state.state,
                f" ({state.reason})" if state.reason else "",
            )
            assert self._home is not None
            self._home.call_soon_threadsafe(self._on_change, monitor.vim_id)


def _refused(result: CheckResult | None) -> bool:
    return result is not None and result.auth_failed
