"""Splitting a VIM's auth_cred into what may be shown and what must be sealed.

The public half keeps every secret key with the value `***`, so API output, events and
logs are built from it without ever decrypting anything.
"""

from __future__ import annotations

import json
from typing import Any

from vimwatch.secrets.keyring import Keyring

MASK = "***"
_SECRET_WORDS = ("password", "secret", "token", "ssl_ca_cert", "client_cert", "client_key")
_PUBLIC_DESPITE_NAME = frozenset({"oidc_token_url"})


def is_secret(key: str) -> bool:
    lowered = key.lower()
    return lowered not in _PUBLIC_DESPITE_NAME and any(word in lowered for word in _SECRET_WORDS)


def seal_credentials(auth_cred: dict[str, Any], keyring: Keyring) -> tuple[dict[str, Any], str]:
    """Return (public auth_cred with secrets masked, ciphertext of the secrets)."""
    secrets = {k: v for k, v in auth_cred.items() if is_secret(k) and v not in (None, "")}
    public = {k: (MASK if k in secrets else v) for k, v in auth_cred.items()}
    sealed = keyring.seal(json.dumps(secrets).encode()) if secrets else ""
    return public, sealed


def open_credentials(public: dict[str, Any], sealed: str, keyring: Keyring) -> dict[str, Any]:
    """The full auth_cred, for the one place that needs it: talking to the VIM."""
    secrets = json.loads(keyring.unseal(sealed)) if sealed else {}
    return {**public, **secrets}
