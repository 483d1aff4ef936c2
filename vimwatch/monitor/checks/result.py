"""What one API check run found, shared by every VIM type's check."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from vimwatch.drivers.base import describe, relayed, root_cause, shown_url

#: The reason a check gives when the VIM refused its credentials; operators and alert
#: rules match on it, so it never changes wording.
AUTH_FAILED = "authentication failed"


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    #: Why it failed (empty when it passed): HTTP status and the remote text, no secrets.
    reason: str = ""
    #: Seconds the check's requests took, login included.
    latency: float = 0.0
    #: The VIM refused the credentials (login or token): the runner backs off logins.
    auth_failed: bool = False
    #: Logins this run made (0 while a token is reused).
    logins: int = 0


class CheckFailed(Exception):
    """Ends a check run with a reason; `auth_failed` when the credentials were refused."""

    def __init__(self, reason: str, *, auth_failed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.auth_failed = auth_failed


def auth_failure(detail: str) -> CheckFailed:
    return CheckFailed(f"{AUTH_FAILED}: {detail}", auth_failed=True)


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    secrets: list[str | None],
    timeout: float,
    *,
    headers: dict[str, str] | None = None,
    json: Any = None,
    data: dict[str, str] | None = None,
) -> httpx.Response:
    """One request; a transport failure becomes CheckFailed with a reason free of secrets."""
    try:
        return await client.request(
            method, url, timeout=timeout, headers=headers, json=json, data=data
        )
    except httpx.TimeoutException:
        reason = f"cannot reach {shown_url(url)}: timed out after {timeout:g}s"
    except (httpx.HTTPError, OSError) as exc:
        # OSError: httpx lets a TLS alert that arrives after the handshake through as the
        # ssl module raised it.
        refused = tls_refusal(exc)
        if refused is not None:
            raise auth_failure(f"{shown_url(url)} {refused}") from None
        reason = f"cannot reach {shown_url(url)}: {relayed(describe(exc), secrets)}"
    raise CheckFailed(reason)


#: TLS alerts a server sends about the client's certificate: missing, unsigned by a CA
#: it trusts, expired, revoked, or not for client use.
_CLIENT_CERTIFICATE_ALERTS = frozenset(
    {
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV1_ALERT_UNKNOWN_CA",
    }
)


def tls_refusal(exc: BaseException) -> str | None:
    """Why a TLS handshake failed, when it failed over credentials rather than the
    network: the server's certificate is not signed by the CA the VIM trusts (a rotated
    CA), or the server refused the client certificate. None for any other failure."""
    cause = root_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (
            "presented a certificate the VIM's trusted CA did not sign "
            f"(certificate verify failed: {cause.verify_message})"
        )
    if isinstance(cause, ssl.SSLError) and cause.reason in _CLIENT_CERTIFICATE_ALERTS:
        alert = str(cause.reason).lower().replace("_", " ")
        return f"refused the client certificate ({alert})"
    return None
