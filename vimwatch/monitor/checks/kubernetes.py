"""The `kubernetes` API check of a Kubernetes VIM: is its API server ready?

`GET /readyz`, falling back to `/healthz` on servers older than readyz, with the VIM's
bearer token, basic credentials, an OIDC id_token, or its client certificate (which the
TLS context in `verify` presents; see vim_access). The id_token is kept and fetched
again only when it expires (its `exp` claim) or the API server stops accepting it, so the
OIDC provider sees one login per token lifetime.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from dataclasses import dataclass

import httpx

from vimwatch.drivers.base import relayed
from vimwatch.drivers.kubernetes import Credentials
from vimwatch.monitor.checks.result import CheckFailed, CheckResult, auth_failure, send


@dataclass(frozen=True, kw_only=True)
class KubernetesAccess(Credentials):
    """The credential form the driver read at registration, and where and how to reach
    the API server with it."""

    base_url: str
    verify: ssl.SSLContext | bool


class KubernetesCheck:
    __slots__ = ("_id_token", "_expires_at", "logins_sent")

    def __init__(self) -> None:
        self._id_token: str | None = None
        self._expires_at = 0.0
        # Logins sent, counted before the answer: one cut short by a timeout counts too.
        self.logins_sent = 0

    def needs_login(self, margin: float, access: KubernetesAccess) -> bool:
        """Only OIDC logs in; a bearer token or basic credentials go with every request."""
        if access.oidc_token_url is None:
            return False
        return self._id_token is None or self._expires_at - time.time() <= margin

    def forget_token(self) -> None:
        self._id_token = None

    async def run(
        self,
        client: httpx.AsyncClient,
        access: KubernetesAccess,
        *,
        timeout: float,
        margin: float,
        endpoints: bool = False,
    ) -> CheckResult:
        started = time.monotonic()
        secrets = [*access.secrets, self._id_token]
        logins = 0
        try:
            if self.needs_login(margin, access):
                logins += 1
                await self._login(client, access, timeout, secrets)
            response = await self._ready(client, access, timeout, secrets)
            if response.status_code == 401 and access.oidc_token_url is not None and not logins:
                # The provider may revoke an id_token before its expiry: log in once more.
                logins += 1
                await self._login(client, access, timeout, secrets)
                response = await self._ready(client, access, timeout, secrets)
            _judge(response, access, secrets)
        except CheckFailed as failed:
            return CheckResult(
                False,
                failed.reason,
                time.monotonic() - started,
                auth_failed=failed.auth_failed,
                logins=logins,
            )
        return CheckResult(True, "", time.monotonic() - started, logins=logins)

    def _headers(self, access: KubernetesAccess) -> dict[str, str]:
        if access.oidc_token_url is not None:
            return {"Authorization": f"Bearer {self._id_token}"}
        if access.bearer_token is not None:
            return {"Authorization": f"Bearer {access.bearer_token}"}
        if access.username is not None:
            pair = f"{access.username}:{access.password or ''}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        return {}

    async def _ready(
        self,
        client: httpx.AsyncClient,
        access: KubernetesAccess,
        timeout: float,
        secrets: list[str | None],
    ) -> httpx.Response:
        base = access.base_url.rstrip("/")
        headers = self._headers(access)
        response = await send(client, "GET", base + "/readyz", secrets, timeout, headers=headers)
        if response.status_code == 404:
            response = await send(
                client, "GET", base + "/healthz", secrets, timeout, headers=headers
            )
        return response

    async def _login(
        self,
        client: httpx.AsyncClient,
        access: KubernetesAccess,
        timeout: float,
        secrets: list[str | None],
    ) -> None:
        url = access.oidc_token_url or ""
        self.logins_sent += 1
        response = await send(
            client, "POST", url, secrets, timeout, data=access.oidc_password_grant()
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if response.status_code in (400, 401):
            self._id_token = None
            said = body.get("error_description") or body.get("error") or response.reason_phrase
            raise auth_failure(
                f"OIDC provider refused the login: {relayed(said, secrets)}"
                f" (HTTP {response.status_code})"
            )
        id_token = body.get("id_token")
        if response.status_code != 200 or not isinstance(id_token, str) or not id_token:
            raise CheckFailed(f"OIDC provider returned no id_token (HTTP {response.status_code})")
        self._id_token = id_token
        secrets.append(id_token)
        self._expires_at = _jwt_expiry(id_token, body.get("expires_in"))


def _judge(response: httpx.Response, access: KubernetesAccess, secrets: list[str | None]) -> None:
    status = response.status_code
    if status == 200:
        return
    text = relayed(response.text or response.reason_phrase, secrets)
    if status in (401, 403):
        raise auth_failure(f"Kubernetes API server refused the credentials (HTTP {status})")
    raise CheckFailed(f"Kubernetes API server is not ready: {text} (HTTP {status})")


def _jwt_expiry(token: str, expires_in: object) -> float:
    """An id_token's `exp` claim; else the grant's expires_in; else an hour from now."""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            padded = parts[1] + "=" * (-len(parts[1]) % 4)
            exp = json.loads(base64.urlsafe_b64decode(padded)).get("exp")
            if isinstance(exp, int | float):
                return float(exp)
        except (ValueError, AttributeError):
            pass
    if isinstance(expires_in, int | float) and expires_in > 0:
        return time.time() + float(expires_in)
    return time.time() + 3600
