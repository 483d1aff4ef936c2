"""Who a Keystone token belongs to (VIMWATCH_AUTH=keystone).

vimwatch logs in to Keystone with its own service account and asks about each caller's
token (`GET /v3/auth/tokens` with `X-Subject-Token`): Keystone's documented way for a
service to check a token without holding Keystone's keys. A command-line call makes two or
three requests with one token, so answers are kept for a short while (never beyond the
token's own expiry); the price is that a revoked token keeps working until then.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from vimwatch.config import Settings
from vimwatch.context import RequestContext
from vimwatch.drivers.openstack import OpenStackDriver
from vimwatch.errors import NotAuthenticated, ServiceUnavailable

LOG = logging.getLogger(__name__)
MAX_CACHED = 10_000
TIMEOUT = 10.0


class KeystoneTokens:
    """Turns X-Auth-Token values into request contexts, asking Keystone once per while."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        url = OpenStackDriver().normalize_auth_url(str(settings.keystone_url))
        secret = settings.keystone_password
        password = secret.get_secret_value() if secret else ""
        self._tokens_url = url.rstrip("/") + "/auth/tokens"
        self._session = ks_session.Session(
            auth=v3.Password(
                auth_url=url,
                username=settings.keystone_username,
                password=password,
                user_domain_name=settings.keystone_user_domain,
                project_name=settings.keystone_project,
                project_domain_name=settings.keystone_project_domain,
            ),
            timeout=TIMEOUT,
        )
        self._keep_for = settings.keystone_cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, RequestContext]] = {}
        self._lock = threading.Lock()

    def context_for(self, token: str) -> RequestContext:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached[0] > now:
            return cached[1]
        context, lifetime = self._ask_keystone(token)
        with self._lock:
            self._cache.pop(key, None)
            if len(self._cache) >= MAX_CACHED:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (now + min(self._keep_for, lifetime), context)
        return context

    def _ask_keystone(self, token: str) -> tuple[RequestContext, float]:
        try:
            response = self._session.get(
                self._tokens_url, headers={"X-Subject-Token": token}, raise_exc=False
            )
        except ks_exc.Unauthorized as exc:
            LOG.error("vimwatch's service account cannot log in to Keystone: %s", exc)
            raise ServiceUnavailable("vimwatch cannot log in to Keystone to check tokens") from None
        except ks_exc.ClientException as exc:
            LOG.error("cannot validate tokens with Keystone at %s: %s", self._tokens_url, exc)
            raise ServiceUnavailable(f"cannot reach Keystone to check the token: {exc}") from None
        if response.status_code == 404:
            raise NotAuthenticated("The token is invalid or has expired; log in again.")
        if response.status_code != 200:
            LOG.error("Keystone answered %s to a token validation", response.status_code)
            raise ServiceUnavailable(
                f"Keystone could not validate the token (HTTP {response.status_code})"
            )
        return context_from_token(response.json()["token"])


def context_from_token(token: dict[str, Any]) -> tuple[RequestContext, float]:
    """The caller's project and roles, and how many seconds the token has left."""
    project = token.get("project")
    if not project:
        raise NotAuthenticated("The token is not scoped to a project; give a project to log in to.")
    expires = datetime.fromisoformat(token["expires_at"])
    lifetime = (expires - datetime.now(UTC)).total_seconds()
    if lifetime <= 0:
        raise NotAuthenticated("The token is invalid or has expired; log in again.")
    context = RequestContext(
        project_id=project["id"],
        roles=frozenset(role["name"] for role in token.get("roles", [])),
        user_id=token.get("user", {}).get("id"),
    )
    return context, lifetime
