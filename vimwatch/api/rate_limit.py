"""A request rate per caller, so that one token cannot take the API from everyone else.

Each caller has a token bucket: it holds up to `rate_burst` requests and refills at
`rate_limit` a second; a request finding it empty is answered 429 with `Retry-After`,
before anything reads its body or looks its token up. The caller is its token (kept as a
digest: a Keystone token can be kilobytes) or, without one, its address. Under noauth,
where every caller is an admin, nothing is limited. A token the auth step found to be
an admin's is moved to `rate_limit_admin`, or let through unlimited when that is unset.
/healthz and /metrics are never limited: load balancers and Prometheus must always get
their answer.

A made-up token is a new caller with a full bucket, so per-token buckets alone let a flood
of made-up tokens through, each costing a token lookup (in `keystone` mode, a call to
Keystone). So each address also has an allowance of refused authentications
(REFUSED_BURST, refilled at REFUSED_RATE a second): once an address has spent it, its
requests are answered 429 before their token is looked up, except those carrying a token
that authenticated before, so callers behind the same address with good tokens go on.

Per process and in memory: a few dozen bytes a caller, for at most MAX_CALLERS callers
(the least recently seen are forgotten, which only gives them a full bucket again).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from vimwatch.api.auth import caller_address, caller_key
from vimwatch.api.limits import send_error
from vimwatch.config import Settings

MAX_CALLERS = 100_000
REFUSED_BURST = 20.0
REFUSED_RATE = 1.0
UNLIMITED_PATHS = frozenset({"/healthz", "/metrics"})


class RateLimits:
    """Every caller's bucket, as (requests left, when last counted)."""

    def __init__(self, settings: Settings) -> None:
        self._rate = settings.rate_limit
        self._burst = float(settings.rate_burst)
        self._admin_rate = settings.rate_limit_admin
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._admins: OrderedDict[str, None] = OrderedDict()
        self._authenticated: OrderedDict[str, None] = OrderedDict()
        self._refusals: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def note_admin(self, key: str) -> None:
        """The auth step found the caller to be an admin: from now on it gets the admin
        rate (its first request was counted at the ordinary one)."""
        _remember(self._admins, key)

    def note_authenticated(self, key: str) -> None:
        """The caller's token was accepted: its address's spent allowance of refusals no
        longer holds it."""
        _remember(self._authenticated, key)

    def note_refused(self, address: str, now: float) -> None:
        """An authentication from `address` was refused: one taken from its allowance."""
        left = _refilled(self._refusals, address, now, REFUSED_BURST, REFUSED_RATE)
        _store(self._refusals, address, (max(0.0, left - 1), now))

    def wait(self, key: str, address: str, now: float) -> float:
        """0 and one request taken from the caller's bucket, or the seconds until the
        bucket holds a request again (or, for a caller not yet authenticated, until its
        address may be refused once more)."""
        rate = self._admin_rate if key in self._admins else self._rate
        if rate is None or self._rate == 0:
            return 0.0
        if key not in self._authenticated:
            refusals = _refilled(self._refusals, address, now, REFUSED_BURST, REFUSED_RATE)
            if refusals < 1:
                return (1 - refusals) / REFUSED_RATE
        left = _refilled(self._buckets, key, now, self._burst, rate)
        waited = 0.0 if left >= 1 else (1 - left) / rate
        _store(self._buckets, key, (left - 1 if left >= 1 else left, now))
        return waited


def _refilled(
    buckets: OrderedDict[str, tuple[float, float]], key: str, now: float, burst: float, rate: float
) -> float:
    """What the bucket holds now: full for a caller not seen (or forgotten)."""
    left, then = buckets.get(key, (burst, now))
    return min(burst, left + (now - then) * rate)


def _store(
    buckets: OrderedDict[str, tuple[float, float]], key: str, bucket: tuple[float, float]
) -> None:
    """Keep the bucket as the most recently seen, forgetting the least recent past
    MAX_CALLERS."""
    buckets[key] = bucket
    buckets.move_to_end(key)
    if len(buckets) > MAX_CALLERS:
        buckets.popitem(last=False)


def _remember(seen: OrderedDict[str, None], key: str) -> None:
    seen[key] = None
    seen.move_to_end(key)
    if len(seen) > MAX_CALLERS:
        seen.popitem(last=False)


class RateLimit:
    """The ASGI middleware; the buckets live on app.state.rate_limits, made from the
    settings on the first request (the app gets its settings when it starts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits = _limits(scope) if scope["type"] == "http" else None
        if limits is None or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        waited = limits.wait(caller_key(request), caller_address(request), time.monotonic())
        if waited == 0:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(waited))).encode()
        message = (
            "too many requests: this caller's rate limit, or its address's allowance of"
            f" refused authentications, is spent; retry after {retry_after.decode()} s"
        )
        await send_error(
            scope, send, 429, "TooManyRequests", message, ((b"retry-after", retry_after),)
        )


def _limits(scope: Scope) -> RateLimits | None:
    state = scope["app"].state
    limits = getattr(state, "rate_limits", None)
    if limits is None:
        settings = getattr(state, "settings", None)
        # Without auth there are no tokens to tell callers apart, and every caller is an
        # admin: one operator's own tools (and the benchmarks) run unthrottled.
        if settings is None or settings.auth == "noauth":
            return None
        limits = state.rate_limits = RateLimits(settings)
    return limits
