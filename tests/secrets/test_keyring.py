"""Keys are created private, refused when others can read them, and seal credentials."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vimwatch.secrets.credentials import MASK, open_credentials, seal_credentials
from vimwatch.secrets.keyring import KEY_FILE, Keyring, KeyringError


def test_first_start_creates_a_private_key_file(tmp_path: Path) -> None:
    Keyring.create(tmp_path / "keys")
    assert stat.S_IMODE((tmp_path / "keys" / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700


def test_a_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    Keyring.create(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring.open(tmp_path)


def test_secrets_are_sealed_and_masked_but_other_fields_stay_readable(tmp_path: Path) -> None:
    keyring = Keyring.create(tmp_path)
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
    _, sealed = seal_credentials({"password": "pw"}, Keyring.create(tmp_path / "a"))
    with pytest.raises(KeyringError):
        open_credentials({}, sealed, Keyring.create(tmp_path / "b"))


def test_a_key_file_that_turns_bad_is_reported_once_and_never_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keyring = Keyring.create(tmp_path)
    sealed = keyring.seal(b"pw")
    path = tmp_path / KEY_FILE
    good = path.read_bytes()
    assert keyring.problem() is None

    path.chmod(0o644)
    for _ in range(3):
        assert "chmod 600" in keyring.problem()
        with pytest.raises(KeyringError, match="others can read it"):
            keyring.unseal(sealed)
    assert len([r for r in caplog.records if "others can read it" in r.message]) == 1

    path.chmod(0o600)
    assert keyring.problem() is None
    assert keyring.unseal(sealed) == b"pw"
    assert any("usable again" in r.message for r in caplog.records)

    path.write_bytes(b"not-a-key\n")
    assert "does not hold valid Fernet keys" in keyring.problem()
    assert path.read_bytes() == b"not-a-key\n"
    path.unlink()
    assert "restore it from backup" in keyring.problem()
    assert not path.exists()
    path.write_bytes(good)
    path.chmod(0o600)
    assert keyring.unseal(sealed) == b"pw"
