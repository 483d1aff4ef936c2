"""Turning a request into a RequestContext, one function per auth mode.

- `noauth`: every caller is an admin, in the project named by the X-Project-Id header or
  the configured default project.
- `token`: the X-Auth-Token is one made by `vimwatch token create`; its project and admin
  flag make the context.
- `keystone`: the X-Auth-Token is checked against Keystone; the token's project and roles
  make the context (the `admin` role sees every project, any other only its own).

A new mode is one more entry in MODES; the routes only ever see `request_context`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from fastapi import Request

from vimwatch.api.keystone import KeystoneTokens
from vimwatch.context import RequestContext
from vimwatch.errors import NotAuthenticated
from vimwatch.registry.tokens import find_live_token

_SETUP_LOCK = threading.Lock()


def _noauth(request: Request) -> RequestContext:
    settings = request.app.state.settings
    project = request.headers.get("X-Project-Id") or settings.default_project
    return RequestContext(project_id=project, roles=frozenset({"admin"}))


def presented_token(request: Request) -> str | None:
    """The caller's token: the X-Auth-Token the OpenStack clients send, or the
    `Authorization: Bearer` that Prometheus and most HTTP tools send. Surrounding spaces
    are a copy-and-paste accident, never part of a token."""
    token = request.headers.get("X-Auth-Token")
    if token is None:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        token = credentials if scheme.lower() == "bearer" else None
    return token.strip() if token else None


def caller_key(request: Request) -> str:
    """Who a request counts against for rate limits (vimwatch.api.rate_limit): its token,
    as a digest (a Keystone token can be kilobytes), or without one its address."""
    token = presented_token(request)
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()
    return f"address:{caller_address(request)}"


def caller_address(request: Request) -> str:
    """The peer address a request came from, as the refused-authentication allowance
    counts it."""
    return str(request.client.host if request.client else None)


def _token(request: Request) -> RequestContext:
    token = presented_token(request)
    if not token:
        raise NotAuthenticated("Authentication required: send a vimwatch token in X-Auth-Token.")
    with request.app.state.registry.reading() as session:
        row = find_live_token(session, token)
    if row is None:
        raise NotAuthenticated("The token is unknown or revoked.")
    roles = frozenset({"admin"} if row.is_admin else {"member"})
    return RequestContext(project_id=row.project_id, roles=roles, user_id=f"token:{row.id}")


def _keystone(request: Request) -> RequestContext:
    token = presented_token(request)
    if not token:
        raise NotAuthenticated("Authentication required: send a Keystone token in X-Auth-Token.")
    return _keystone_tokens(request).context_for(token)


def _keystone_tokens(request: Request) -> KeystoneTokens:
    """One validator (and so one cache and one service login) per application."""
    state = request.app.state
    with _SETUP_LOCK:
        if getattr(state, "keystone_tokens", None) is None:
            state.keystone_tokens = KeystoneTokens(state.settings)
    return state.keystone_tokens


MODES: dict[str, Callable[[Request], RequestContext]] = {
    "noauth": _noauth,
    "token": _token,
    "keystone": _keystone,
}


def request_context(request: Request) -> RequestContext:
    """The FastAPI dependency every route uses; sync, so Keystone calls run in a thread."""
    mode = request.app.state.settings.auth
    limits = getattr(request.app.state, "rate_limits", None)
    try:
        context = MODES[mode](request)
    except NotAuthenticated:
        if limits is not None:
            limits.note_refused(caller_address(request), time.monotonic())
        raise
    if limits is not None:
        key = caller_key(request)
        limits.note_authenticated(key)
        if context.is_admin:
            limits.note_admin(key)
    return context
