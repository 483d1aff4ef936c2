"""Kubernetes VIMs: prove the cluster credentials and discover its namespaces."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from vimwatch.drivers.base import (
    check_http_url,
    describe,
    is_tls_failure,
    optional_str,
    redact,
    require_mapping,
    require_str,
)
from vimwatch.errors import InvalidConfig, VimValidationError

CREDENTIAL_FORMS = (
    "bearer_token; username and password; "
    "oidc_token_url with username, password and client_id (client_secret optional)"
)


@dataclass(frozen=True)
class Credentials:
    """The one credential form an auth_cred selects, in Tacker's order of precedence."""

    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None
    oidc_token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    @property
    def secrets(self) -> list[str | None]:
        return [self.bearer_token, self.password, self.client_secret]


def read_credentials(auth_cred: Mapping[str, Any]) -> Credentials:
    """Pick the credential form; raises InvalidConfig naming what is missing."""

    def present(key: str) -> str | None:
        return optional_str(auth_cred, key, "auth_cred")

    def needed(key: str, because: str) -> str:
        value = present(key)
        if value is None:
            raise InvalidConfig(f"auth_cred.{key} is required with auth_cred.{because}")
        return value

    oidc_token_url = present("oidc_token_url")
    if oidc_token_url is not None:
        check_http_url(oidc_token_url, "auth_cred.oidc_token_url")
        return Credentials(
            username=needed("username", "oidc_token_url"),
            password=needed("password", "oidc_token_url"),
            oidc_token_url=oidc_token_url,
            client_id=needed("client_id", "oidc_token_url"),
            client_secret=present("client_secret"),
        )
    if present("username") is not None or present("password") is not None:
        return Credentials(
            username=needed("username", "password"), password=needed("password", "username")
        )
    bearer_token = present("bearer_token")
    if bearer_token is not None:
        return Credentials(bearer_token=bearer_token)
    raise InvalidConfig(f"auth_cred needs one of: {CREDENTIAL_FORMS}")


def tls_context(ssl_ca_cert: str | None) -> ssl.SSLContext:
    """Trust exactly the given CA bundle, or the system's trust store when there is none."""
    if ssl_ca_cert is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=ssl_ca_cert)
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidConfig(f"auth_cred.ssl_ca_cert is not a PEM CA bundle: {exc}") from None


class KubernetesDriver:
    vim_type = "kubernetes"

    def normalize_auth_url(self, auth_url: str) -> str:
        """Kept as given: Tacker stores Kubernetes URLs verbatim and clients compare them."""
        return auth_url

    def check_config(self, auth_url: str, auth_cred: dict, vim_project: dict) -> None:
        check_http_url(auth_url, "auth_url")
        cred = require_mapping(auth_cred, "auth_cred")
        read_credentials(cred)
        ssl_ca_cert = optional_str(cred, "ssl_ca_cert", "auth_cred")
        if ssl_ca_cert is not None:
            tls_context(ssl_ca_cert)
        require_str(require_mapping(vim_project, "vim_project"), "name", "vim_project")

    def validate(
        self, auth_url: str, auth_cred: dict, vim_project: dict, timeout: float = 10.0
    ) -> dict:
        self.check_config(auth_url, auth_cred, vim_project)
        creds = read_credentials(auth_cred)
        verify = tls_context(optional_str(auth_cred, "ssl_ca_cert", "auth_cred"))
        base = auth_url.rstrip("/")
        with httpx.Client(verify=verify, timeout=timeout) as client:
            call = _Caller(client, timeout, creds.secrets)
            auth = _auth_headers(call, creds)
            call.kubernetes("GET", base, "/api", "list its API versions", auth, "versions")
            namespace_list = call.kubernetes(
                "GET", base, "/api/v1/namespaces", "list namespaces", auth, "items"
            )
        try:
            namespaces = [item["metadata"]["name"] for item in namespace_list["items"]]
        except (KeyError, TypeError) as exc:
            raise VimValidationError(
                f"Kubernetes at {auth_url} sent an unreadable namespace list"
            ) from exc
        return {"namespaces": namespaces, "regions": list(namespaces)}


def _auth_headers(call: _Caller, creds: Credentials) -> dict[str, str]:
    if creds.oidc_token_url is not None:
        return {"Authorization": f"Bearer {_oidc_id_token(call, creds)}"}
    if creds.bearer_token is not None:
        return {"Authorization": f"Bearer {creds.bearer_token}"}
    encoded = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    # Encoded is not hidden: a server that echoes the header would reveal the password.
    call.secrets.append(encoded)
    return {"Authorization": f"Basic {encoded}"}


def _oidc_id_token(call: _Caller, creds: Credentials) -> str:
    """Trade the user's password for an id_token, which the API server accepts as a bearer."""
    url = creds.oidc_token_url or ""
    form = {
        "grant_type": "password",
        "scope": "openid",
        "client_id": creds.client_id or "",
        "username": creds.username or "",
        "password": creds.password or "",
    }
    if creds.client_secret is not None:
        form["client_secret"] = creds.client_secret
    response = call.send("POST", url, data=form)
    body = _json_object(response)
    if response.status_code in (400, 401):
        reason = body.get("error_description") or body.get("error") or response.reason_phrase
        raise call.error(
            f"OIDC provider at {url} rejected the credentials: "
            f"{reason} (HTTP {response.status_code})"
        )
    id_token = body.get("id_token")
    if response.status_code != 200 or not isinstance(id_token, str) or not id_token:
        raise call.error(
            f"OIDC provider at {url} returned no id_token (HTTP {response.status_code})"
        )
    call.secrets.append(id_token)
    return id_token


class _Caller:
    """Sends requests and turns every failure into a VimValidationError free of secrets."""

    def __init__(self, client: httpx.Client, timeout: float, secrets: list[str | None]) -> None:
        self.client = client
        self.timeout = timeout
        self.secrets = list(secrets)

    def error(self, reason: str) -> VimValidationError:
        return VimValidationError(redact(reason, self.secrets))

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            reason = f"cannot reach {url}: timed out after {self.timeout:g}s"
        except httpx.TransportError as exc:
            if is_tls_failure(exc):
                reason = f"TLS handshake with {url} failed: {describe(exc)}"
            else:
                reason = f"cannot reach {url}: {describe(exc)}"
        raise self.error(reason)

    def kubernetes(
        self, method: str, base: str, path: str, doing: str, headers: dict[str, str], key: str
    ) -> dict[str, Any]:
        """Call the API server and return its JSON object, which must carry `key`."""
        response = self.send(method, base + path, headers=headers)
        body = _json_object(response)
        if response.status_code != 200:
            reason = (
                f"{body.get('message') or response.reason_phrase} (HTTP {response.status_code})"
            )
            if response.status_code in (401, 403):
                raise self.error(f"Kubernetes at {base} rejected the credentials: {reason}")
            raise self.error(f"Kubernetes at {base} did not {doing}: {reason}")
        if key not in body:
            raise self.error(f"no Kubernetes API at {base}: {path} did not answer like one")
        return body


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
