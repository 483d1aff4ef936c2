"""Keys are created private, refused when others can read them, and seal credentials."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vimwatch.secrets.credentials import MASK, open_credentials, seal_credentials
from vimwatch.secrets.keyring import KEY_FILE, Keyring, KeyringError


def test_first_start_creates_a_private_key_file(tmp_path: Path) -> None:
    Keyring.open(tmp_path / "keys")
    assert stat.S_IMODE((tmp_path / "keys" / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


def test_a_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    Keyring.open(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring.open(tmp_path)


def test_secrets_are_sealed_and_masked_but_other_fields_stay_readable(tmp_path: Path) -> None:
    keyring = Keyring.open(tmp_path)
    cred = {
        "username": "u",
        # A "!" is outside a Fernet token's alphabet: a token can never contain these by chance.
        "password": "pw!",
        "bearer_token": "tok!",
        "ssl_ca_cert": "PEM!",
        "client_secret": "cs!",
        "oidc_token_url": "https://idp/token",
        "cert_verify": "True",
    }
    public, sealed = seal_credentials(cred, keyring)
    assert public == {
        "username": "u",
        "password": MASK,
        "bearer_token": MASK,
        "ssl_ca_cert": MASK,
        "client_secret": MASK,
        "oidc_token_url": "https://idp/token",
        "cert_verify": "True",
    }
    assert not any(secret in sealed for secret in ("pw!", "tok!", "PEM!", "cs!"))
    assert open_credentials(public, sealed, keyring) == cred


def test_another_key_cannot_open_the_secrets(tmp_path: Path) -> None:
    _, sealed = seal_credentials({"password": "pw"}, Keyring.open(tmp_path / "a"))
    with pytest.raises(KeyringError):
        open_credentials({}, sealed, Keyring.open(tmp_path / "b"))
