"""Kubernetes VIMs: prove the cluster credentials and discover its namespaces."""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from vimwatch.drivers.base import (
    check_http_url,
    describe,
    is_tls_failure,
    optional_str,
    relayed,
    require_mapping,
    require_str,
    shown_url,
)
from vimwatch.errors import InvalidConfig, VimValidationError


class OIDCAuthFailed(VimValidationError):
    """The OIDC provider refused the credentials (Tacker's error of the same name)."""


CREDENTIAL_FORMS = (
    "bearer_token; username and password; "
    "oidc_token_url with username, password and client_id (client_secret optional); "
    "client_cert and client_key"
)
#: The keys of each credential form, in Tacker's order of precedence; the client
#: certificate, which Tacker did not have, comes last.
FORM_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("oidc_token_url", ("oidc_token_url", "username", "password", "client_id", "client_secret")),
    ("username", ("username", "password")),
    ("bearer_token", ("bearer_token",)),
    ("client_cert", ("client_cert", "client_key")),
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
    #: A client certificate and its private key (PEM), presented in the TLS handshake.
    client_cert: str | None = None
    client_key: str | None = None

    @property
    def secrets(self) -> list[str | None]:
        return [self.bearer_token, self.password, self.client_secret, self.client_key]

    def oidc_password_grant(self) -> dict[str, str]:
        """The form that trades the user's password for an id_token at the OIDC provider,
        at registration and at every renewal by the API check alike."""
        form = {
            "grant_type": "password",
            "scope": "openid",
            "client_id": self.client_id or "",
            "username": self.username or "",
            "password": self.password or "",
        }
        if self.client_secret is not None:
            form["client_secret"] = self.client_secret
        return form


def read_credentials(auth_cred: Mapping[str, Any]) -> Credentials:
    """Pick the credential form; raises InvalidConfig naming what is missing."""

    def present(key: str) -> str | None:
        return optional_str(auth_cred, key, "auth_cred")

    def needed(key: str, because: str) -> str:
        value = present(key)
        if value is None:
            raise InvalidConfig(f"auth_cred.{key} is required with auth_cred.{because}")
        return value

    if present("client_cert") is not None or present("client_key") is not None:
        return _client_certificate(present, needed)
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


def _client_certificate(
    present: Callable[[str], str | None], needed: Callable[[str, str], str]
) -> Credentials:
    """The client-certificate form; a form of its own, so that which credential the
    API server judged is never in doubt."""
    others = [key for _, keys in FORM_KEYS[:-1] for key in keys if present(key) is not None]
    if others:
        raise InvalidConfig(
            "auth_cred.client_cert is a credential form of its own; "
            f"remove {', '.join(f'auth_cred.{key}' for key in others)}"
        )
    return Credentials(
        client_cert=needed("client_cert", "client_key"),
        client_key=needed("client_key", "client_cert"),
    )


def tls_context(ssl_ca_cert: str | None, credentials: Credentials | None = None) -> ssl.SSLContext:
    """Trust exactly the given CA bundle, or the system's trust store when there is none;
    present the credentials' client certificate, when they are that form."""
    try:
        context = ssl.create_default_context(cadata=ssl_ca_cert)
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidConfig(f"auth_cred.ssl_ca_cert is not a PEM CA bundle: {exc}") from None
    if credentials is not None and credentials.client_cert and credentials.client_key:
        load_client_certificate(context, credentials.client_cert, credentials.client_key)
    return context


def load_client_certificate(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """OpenSSL reads a certificate chain only from files: the PEMs go through anonymous
    in-memory files, so the private key never touches a disk."""
    with _memory_file(cert_pem) as cert, _memory_file(key_pem) as key:
        try:
            context.load_cert_chain(cert, key)
        except ssl.SSLError as exc:
            raise InvalidConfig(
                "auth_cred.client_cert and auth_cred.client_key are not a PEM certificate "
                f"and its unencrypted private key: {exc.reason or exc}"
            ) from None


@contextmanager
def _memory_file(text: str) -> Iterator[str]:
    fd = os.memfd_create("vimwatch-pem", os.MFD_CLOEXEC)
    try:
        os.write(fd, text.encode())
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


class KubernetesDriver:
    vim_type = "kubernetes"

    def normalize_auth_url(self, auth_url: str) -> str:
        """Kept as given: Tacker stores Kubernetes URLs verbatim and clients compare them."""
        return auth_url

    def check_config(self, auth_url: str, auth_cred: dict, vim_project: dict) -> None:
        check_http_url(auth_url, "auth_url")
        cred = require_mapping(auth_cred, "auth_cred")
        tls_context(optional_str(cred, "ssl_ca_cert", "auth_cred"), read_credentials(cred))
        require_str(require_mapping(vim_project, "vim_project"), "name", "vim_project")

    def validate(
        self, auth_url: str, auth_cred: dict, vim_project: dict, timeout: float = 10.0
    ) -> dict:
        self.check_config(auth_url, auth_cred, vim_project)
        creds = read_credentials(auth_cred)
        verify = tls_context(optional_str(auth_cred, "ssl_ca_cert", "auth_cred"), creds)
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
                f"Kubernetes at {shown_url(auth_url)} sent an unreadable namespace list"
            ) from exc
        return {"namespaces": namespaces, "regions": list(namespaces)}


def _auth_headers(call: _Caller, creds: Credentials) -> dict[str, str]:
    if creds.client_cert is not None:
        return {}
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
    response = call.send("POST", url, data=creds.oidc_password_grant())
    if response.status_code != 200:
        # Tacker's text (scripts match on it); the body is relayed as its words always are.
        raise OIDCAuthFailed(
            "OIDC authentication and authorization failed. Detail: response code: "
            f"{response.status_code}, body: {call.relay(response.text)}"
        )
    id_token = _json_object(response).get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise call.error(f"OIDC provider at {shown_url(url)} returned no id_token (HTTP 200)")
    call.secrets.append(id_token)
    return id_token


class _Caller:
    """Sends requests and turns every failure into a VimValidationError whose message is
    built from the URL and status. A transport failure's reason is the socket's or TLS
    library's; the remote side's words are relayed only when they quote no credential
    (drivers.base.relayed)."""

    def __init__(self, client: httpx.Client, timeout: float, secrets: list[str | None]) -> None:
        self.client = client
        self.timeout = timeout
        self.secrets = list(secrets)

    def relay(self, value: object) -> str:
        return relayed(value, self.secrets)

    def error(self, reason: str) -> VimValidationError:
        return VimValidationError(reason)

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        shown = shown_url(url)
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            reason = f"cannot reach {shown}: timed out after {self.timeout:g}s"
        except (httpx.TransportError, OSError) as exc:
            # OSError: httpx lets a TLS alert after the handshake through as ssl raised it.
            if is_tls_failure(exc):
                reason = f"TLS handshake with {shown} failed: {describe(exc)}"
            else:
                reason = f"cannot reach {shown}: {describe(exc)}"
        raise self.error(reason)

    def kubernetes(
        self, method: str, base: str, path: str, doing: str, headers: dict[str, str], key: str
    ) -> dict[str, Any]:
        """Call the API server and return its JSON object, which must carry `key`."""
        response = self.send(method, base + path, headers=headers)
        body = _json_object(response)
        where = shown_url(base)
        if response.status_code != 200:
            reason = (
                f"{self.relay(body.get('message') or response.reason_phrase)} "
                f"(HTTP {response.status_code})"
            )
            if response.status_code in (401, 403):
                raise self.error(f"Kubernetes at {where} rejected the credentials: {reason}")
            raise self.error(f"Kubernetes at {where} did not {doing}: {reason}")
        if key not in body:
            raise self.error(f"no Kubernetes API at {where}: {path} did not answer like one")
        return body


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
