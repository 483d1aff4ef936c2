"""The `keystone` API check of an OpenStack VIM.

It logs in with the VIM's own credentials and project scope, keeps the token and reuses it
until it nears expiry: Keystone then sees one login per VIM per token lifetime, not one per
check. Each run proves Keystone still accepts the token (GET /v3/auth/tokens with the token
as its own subject, which any user may do) and that the token's catalog still lists the
VIM's registered regions; optionally, that the compute, network and orchestration
endpoints of those regions answer their version documents below 500.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from vimwatch.drivers.base import relayed
from vimwatch.monitor.checks.result import CheckFailed, CheckResult, auth_failure, send

DEFAULT_DOMAIN = "Default"
ENDPOINT_SERVICES = ("compute", "network", "orchestration")


@dataclass(frozen=True, slots=True)
class KeystoneAccess:
    """What the check needs of an OpenStack VIM, opened from its sealed credentials."""

    auth_url: str  # ends in /v3
    username: str
    password: str
    user_domain_name: str
    project_name: str
    project_id: str | None
    project_domain_name: str
    verify: bool
    regions: tuple[str, ...]

    def login_body(self) -> dict[str, Any]:
        project: dict[str, Any] = (
            {"id": self.project_id}
            if self.project_id
            else {"name": self.project_name, "domain": {"name": self.project_domain_name}}
        )
        return {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.username,
                            "domain": {"name": self.user_domain_name},
                            "password": self.password,
                        }
                    },
                },
                "scope": {"project": project},
            }
        }


class KeystoneCheck:
    """One VIM's check and the token it keeps between runs."""

    __slots__ = ("_token", "_expires_at", "logins_sent")

    def __init__(self) -> None:
        self._token: str | None = None
        self._expires_at = 0.0  # time.time() of the token's expiry
        # Logins sent, counted before the answer: one cut short by a timeout counts too.
        self.logins_sent = 0

    def needs_login(self, margin: float, access: object = None) -> bool:
        """Whether the next run must log in: no token, or one expiring within `margin`."""
        return self._token is None or self._expires_at - time.time() <= margin

    def forget_token(self) -> None:
        self._token = None

    async def run(
        self,
        client: httpx.AsyncClient,
        access: KeystoneAccess,
        *,
        timeout: float,
        margin: float,
        endpoints: bool,
    ) -> CheckResult:
        started = time.monotonic()
        secrets: list[str | None] = [access.password, self._token]
        logins = 0
        try:
            catalog = None
            if not self.needs_login(margin):
                catalog = await self._validate(client, access, timeout, secrets)
            if catalog is None:
                logins = 1
                catalog = await self._login(client, access, timeout, secrets)
            _check_regions(catalog, access.regions)
            if endpoints:
                await _check_endpoints(client, catalog, access.regions, timeout, secrets)
        except CheckFailed as failed:
            return CheckResult(
                False,
                failed.reason,
                time.monotonic() - started,
                auth_failed=failed.auth_failed,
                logins=logins,
            )
        return CheckResult(True, "", time.monotonic() - started, logins=logins)

    async def _login(
        self,
        client: httpx.AsyncClient,
        access: KeystoneAccess,
        timeout: float,
        secrets: list[str | None],
    ) -> list[dict[str, Any]]:
        url = access.auth_url + "/auth/tokens"
        self.logins_sent += 1
        response = await send(client, "POST", url, secrets, timeout, json=access.login_body())
        if response.status_code in (400, 401, 403):
            self._token = None
            raise auth_failure(f"Keystone refused the login: {_error_text(response, secrets)}")
        if response.status_code != 201:
            raise CheckFailed(f"Keystone login failed: {_error_text(response, secrets)}")
        token = response.headers.get("X-Subject-Token")
        body = _token_body(response)
        if not token or body is None:
            raise CheckFailed("Keystone answered the login without a token")
        self._token = token
        self._expires_at = _expiry(body)
        return body.get("catalog") or []

    async def _validate(
        self,
        client: httpx.AsyncClient,
        access: KeystoneAccess,
        timeout: float,
        secrets: list[str | None],
    ) -> list[dict[str, Any]] | None:
        """The token's catalog, or None when Keystone no longer accepts the token (revoked,
        or its user's password changed): the caller logs in again, once."""
        headers = {"X-Auth-Token": self._token or "", "X-Subject-Token": self._token or ""}
        url = access.auth_url + "/auth/tokens"
        response = await send(client, "GET", url, secrets, timeout, headers=headers)
        if response.status_code in (401, 404):
            self._token = None
            return None
        if response.status_code != 200:
            raise CheckFailed(f"Keystone did not check the token: {_error_text(response, secrets)}")
        body = _token_body(response)
        if body is None:
            raise CheckFailed("Keystone answered the token check without a token")
        return body.get("catalog") or []


def _token_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        token = response.json().get("token")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, dict) else None


def _expiry(body: dict[str, Any]) -> float:
    """The token's expiry as time.time(); a token without one is renewed in an hour."""
    text = body.get("expires_at")
    try:
        expires = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return time.time() + 3600
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return expires.timestamp()


def _error_text(response: httpx.Response, secrets: list[str | None]) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.reason_phrase
    return f"{relayed(message, secrets)} (HTTP {response.status_code})"


def _catalog_regions(catalog: list[dict[str, Any]]) -> set[str]:
    return {
        str(endpoint.get("region_id") or endpoint.get("region"))
        for service in catalog
        for endpoint in service.get("endpoints") or []
    }


def _check_regions(catalog: list[dict[str, Any]], regions: tuple[str, ...]) -> None:
    listed = _catalog_regions(catalog)
    missing = [region for region in regions if region not in listed]
    if missing:
        raise CheckFailed(f"the catalog no longer lists region {', '.join(missing)}")


async def _check_endpoints(
    client: httpx.AsyncClient,
    catalog: list[dict[str, Any]],
    regions: tuple[str, ...],
    timeout: float,
    secrets: list[str | None],
) -> None:
    """Each listed compute, network and orchestration public endpoint of the regions must
    answer its version document below 500; a service the cloud does not run is skipped."""
    for service in catalog:
        if service.get("type") not in ENDPOINT_SERVICES:
            continue
        for endpoint in service.get("endpoints") or []:
            region = endpoint.get("region_id") or endpoint.get("region")
            if endpoint.get("interface") != "public" or (regions and region not in regions):
                continue
            url = str(endpoint.get("url") or "")
            response = await send(client, "GET", url, secrets, timeout)
            if response.status_code >= 500:
                raise CheckFailed(
                    f"{service['type']} endpoint of {region} answered HTTP {response.status_code}"
                )
