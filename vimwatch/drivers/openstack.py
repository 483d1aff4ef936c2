"""OpenStack VIMs: prove the Keystone v3 credentials and discover the cloud's regions."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from vimwatch.drivers.base import (
    check_http_url,
    describe,
    optional_str,
    relayed,
    require_mapping,
    require_str,
    shown_url,
)
from vimwatch.errors import InvalidConfig, VimValidationError

# Tacker's rule, kept so that stored auth_urls match what a Tacker server would store.
_V3_SUFFIX = re.compile(r".+v3/?$")

# The Tacker client fills missing domains with "", which Keystone would refuse; every
# Keystone has this domain, and it is what such users mean.
DEFAULT_DOMAIN = "Default"

_T = TypeVar("_T")


class OpenStackDriver:
    vim_type = "openstack"

    def normalize_auth_url(self, auth_url: str) -> str:
        """Point at the v3 API, which is the only identity API the driver speaks."""
        if _V3_SUFFIX.match(auth_url):
            return auth_url
        return auth_url.rstrip("/") + "/v3"

    def check_config(self, auth_url: str, auth_cred: dict, vim_project: dict) -> None:
        check_http_url(auth_url, "auth_url")
        cred = require_mapping(auth_cred, "auth_cred")
        require_str(cred, "username", "auth_cred")
        require_str(cred, "password", "auth_cred")
        optional_str(cred, "user_domain_name", "auth_cred")
        cert_verify(cred)
        project = require_mapping(vim_project, "vim_project")
        require_str(project, "name", "vim_project")
        optional_str(project, "project_domain_name", "vim_project")
        optional_str(project, "id", "vim_project")

    def validate(
        self, auth_url: str, auth_cred: dict, vim_project: dict, timeout: float = 10.0
    ) -> dict:
        self.check_config(auth_url, auth_cred, vim_project)
        url = self.normalize_auth_url(auth_url)
        check = _KeystoneCheck(url, auth_cred["password"], timeout)
        session = ks_session.Session(
            auth=_password_auth(url, auth_cred, vim_project),
            verify=cert_verify(auth_cred),
            timeout=timeout,
        )
        try:
            check.run(lambda: _probe(session, url), "answer the version request")
            check.run(session.get_token, "log in", rejects_credentials=True)
            regions = check.run(lambda: _list_regions(session, url), "list regions")
        finally:
            session.close()
        return {"regions": regions}


def cert_verify(auth_cred: Mapping[str, Any]) -> bool:
    """Read Tacker's "True"/"False" strings (real booleans are accepted too)."""
    value = auth_cred.get("cert_verify", True)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidConfig("auth_cred.cert_verify must be 'True' or 'False'")


def _password_auth(url: str, auth_cred: dict, vim_project: dict) -> v3.Password:
    user_domain = optional_str(auth_cred, "user_domain_name", "auth_cred")
    project_domain = optional_str(vim_project, "project_domain_name", "vim_project")
    return v3.Password(
        auth_url=url,
        username=auth_cred["username"],
        password=auth_cred["password"],
        user_domain_name=user_domain or DEFAULT_DOMAIN,
        project_id=optional_str(vim_project, "id", "vim_project"),
        project_name=vim_project["name"],
        project_domain_name=project_domain or DEFAULT_DOMAIN,
    )


def _probe(session: ks_session.Session, url: str) -> None:
    """Fail early, and with a clear reason, when the URL is not a Keystone v3 endpoint."""
    try:
        is_version_doc = "version" in session.get(url, authenticated=False).json()
    except ValueError:
        is_version_doc = False
    if not is_version_doc:
        raise VimValidationError(f"no Keystone v3 API at {shown_url(url)}: not a version document")


def _list_regions(session: ks_session.Session, url: str) -> list[str]:
    # An absolute URL, not the catalog: a VIM user's catalog may not list identity at all.
    response = session.get(url.rstrip("/") + "/regions")
    try:
        return [region["id"] for region in response.json()["regions"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise VimValidationError(
            f"Keystone at {shown_url(url)} sent an unreadable region list"
        ) from exc


class _KeystoneCheck:
    """Turns keystoneauth's exceptions into one user-facing reason per step, built from
    the URL and the step. A transport failure's reason is the socket's or TLS library's
    (no credential has been sent yet); Keystone's own words are relayed only when they
    quote no credential."""

    def __init__(self, url: str, password: str, timeout: float) -> None:
        self.url = url
        self.password = password
        self.timeout = timeout

    def run(self, step: Callable[[], _T], doing: str, rejects_credentials: bool = False) -> _T:
        try:
            return step()
        except ks_exc.ClientException as exc:
            raise VimValidationError(self._explain(exc, doing, rejects_credentials)) from None

    def _explain(self, exc: ks_exc.ClientException, doing: str, rejects_credentials: bool) -> str:
        url = shown_url(self.url)
        secrets = [self.password]
        if isinstance(exc, ks_exc.SSLError):
            return f"TLS handshake with {url} failed: {describe(exc)}"
        if isinstance(exc, ks_exc.ConnectTimeout):
            return f"cannot reach {url}: timed out after {self.timeout:g}s"
        if isinstance(exc, ks_exc.ConnectionError):
            return f"cannot reach {url}: {describe(exc)}"
        if isinstance(exc, ks_exc.DiscoveryFailure):
            return f"no Keystone v3 API at {url}: {relayed(exc, secrets)}"
        if isinstance(exc, ks_exc.HttpError):
            # keystoneauth's text already ends with "(HTTP <status>)" and any request id.
            if rejects_credentials and exc.http_status in (400, 401):
                return f"Keystone at {url} rejected the credentials: {relayed(exc, secrets)}"
            return f"Keystone at {url} did not {doing}: {relayed(exc, secrets)}"
        return f"Keystone at {url} did not {doing}: {relayed(exc, secrets)}"
