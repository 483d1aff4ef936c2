"""Opens a VIM's sealed credentials for its API check, in the engine that runs it.

Read from the registry each time the check is about to log in (once per token lifetime)
or while its login is refused (once per interval), never cached across those: so a
`vim update` with new credentials reaches the check without restarting its monitor, and
the plain secrets live in memory only as long as the check needs them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
from pathlib import Path
from typing import Any

from vimwatch.drivers.base import optional_str
from vimwatch.drivers.kubernetes import read_credentials, tls_context
from vimwatch.drivers.openstack import DEFAULT_DOMAIN, OpenStackDriver, cert_verify
from vimwatch.monitor.checks.keystone import KeystoneAccess
from vimwatch.monitor.checks.kubernetes import KubernetesAccess
from vimwatch.monitor.checks.runner import VimAccess, VimGone
from vimwatch.registry.database import Registry
from vimwatch.registry.models import Vim
from vimwatch.secrets.credentials import open_credentials
from vimwatch.secrets.keyring import Keyring


class AccessLoader:
    """`LoadAccess` over the registry; the keyring is opened at first use, so an engine
    without API checks never needs the key file."""

    def __init__(
        self, registry: Registry, key_dir: Path | None = None, keyring: Keyring | None = None
    ) -> None:
        self._registry = registry
        self._key_dir = key_dir
        self._keyring = keyring
        # One TLS context per CA bundle and client certificate (by their digest, so no
        # key is held as a dict key): building one costs milliseconds, and the HTTP
        # clients are pooled per context.
        self._contexts: dict[str, ssl.SSLContext] = {}

    async def __call__(self, vim_id: str) -> VimAccess:
        return await asyncio.to_thread(self._load, vim_id)

    def _load(self, vim_id: str) -> VimAccess:
        with self._registry.reading() as session:
            vim = session.get(Vim, vim_id)
            if vim is None or vim.deleted_at is not None:
                raise VimGone(vim_id)
            kind, url, project = vim.type, vim.auth_url, dict(vim.vim_project or {})
            public, sealed = dict(vim.auth_cred or {}), vim.sealed_secrets
            regions = tuple((vim.placement_attr or {}).get("regions") or ())
        credentials = open_credentials(public, sealed, self._open_keyring())
        fingerprint = hashlib.sha256(
            json.dumps([kind, url, project, public, sealed, regions], sort_keys=True).encode()
        ).hexdigest()
        if kind == "openstack":
            return VimAccess(_keystone(url, credentials, project, regions), fingerprint)
        if kind == "kubernetes":
            return VimAccess(self._kubernetes(url, credentials), fingerprint)
        raise ValueError(f"no API check for VIM type {kind!r}")

    def _open_keyring(self) -> Keyring:
        if self._keyring is None:
            if self._key_dir is None:
                raise ValueError("this engine has no key directory")
            self._keyring = Keyring.open(self._key_dir)
        return self._keyring

    def _kubernetes(self, url: str, credentials: dict[str, Any]) -> KubernetesAccess:
        creds = read_credentials(credentials)
        ca = optional_str(credentials, "ssl_ca_cert", "auth_cred")
        verify: ssl.SSLContext | bool = True
        if ca is not None or creds.client_cert is not None:
            digest = hashlib.sha256(
                json.dumps([ca, creds.client_cert, creds.client_key]).encode()
            ).hexdigest()
            verify = self._contexts.get(digest) or self._contexts.setdefault(
                digest, tls_context(ca, creds)
            )
        return KubernetesAccess(
            base_url=url,
            verify=verify,
            bearer_token=creds.bearer_token,
            username=creds.username,
            password=creds.password,
            oidc_token_url=creds.oidc_token_url,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            client_cert=creds.client_cert,
            client_key=creds.client_key,
        )


def _keystone(
    url: str, credentials: dict[str, Any], project: dict[str, Any], regions: tuple[str, ...]
) -> KeystoneAccess:
    return KeystoneAccess(
        auth_url=OpenStackDriver().normalize_auth_url(url).rstrip("/"),
        username=str(credentials.get("username") or ""),
        password=str(credentials.get("password") or ""),
        user_domain_name=optional_str(credentials, "user_domain_name", "auth_cred")
        or DEFAULT_DOMAIN,
        project_name=str(project.get("name") or ""),
        project_id=optional_str(project, "id", "vim_project"),
        project_domain_name=optional_str(project, "project_domain_name", "vim_project")
        or DEFAULT_DOMAIN,
        verify=cert_verify(credentials),
        regions=regions,
    )
