"""A server's keyring is made only while nothing is sealed, and must open what is sealed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.rows import vim_row
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Vim, Webhook
from vimwatch.secrets.keyring import KEY_FILE, Keyring, KeyringError
from vimwatch.secrets.sealed import check, open_keyring


def seal_vim(registry: Registry, keyring: Keyring, vim_id: str) -> None:
    with registry.transaction() as session:
        session.add(Vim(**{**vim_row(vim_id), "sealed_secrets": keyring.seal(b'{"password": 1}')}))


def seal_webhook(registry: Registry, keyring: Keyring, webhook_id: str) -> None:
    with registry.transaction() as session:
        session.add(
            Webhook(
                id=webhook_id,
                project_id="p",
                url=f"http://127.0.0.1:9/{webhook_id}",
                sealed_secret=keyring.seal(b"hook-secret"),
                created_at=utcnow(),
            )
        )


def test_a_first_start_with_nothing_sealed_makes_a_private_key(
    registry: Registry, tmp_path: Path
) -> None:
    keyring = open_keyring(tmp_path / "keys", registry)
    assert stat.S_IMODE(keyring.path.stat().st_mode) == 0o600
    assert len(keyring.keys) == 1
    # The next start opens the same key rather than making another.
    assert open_keyring(tmp_path / "keys", registry).keys == keyring.keys


@pytest.mark.parametrize("seal", [seal_vim, seal_webhook], ids=["vim", "webhook"])
def test_a_missing_key_file_is_never_replaced_while_secrets_are_sealed(
    registry: Registry, tmp_path: Path, seal
) -> None:
    keys = tmp_path / "keys"
    seal(registry, Keyring.create(keys), "sealed-1")
    (keys / KEY_FILE).unlink()
    with pytest.raises(KeyringError) as refused:
        open_keyring(keys, registry)
    message = refused.value.message
    assert str(keys / KEY_FILE) in message
    assert "restore it from backup" in message and "vimwatch keys check" in message
    assert not (keys / KEY_FILE).exists()


def test_a_key_file_that_does_not_open_the_secrets_is_refused(
    registry: Registry, tmp_path: Path
) -> None:
    seal_vim(registry, Keyring.create(tmp_path / "lost"), "sealed-elsewhere")
    Keyring.create(tmp_path / "keys")
    with pytest.raises(KeyringError, match="does not open the sealed secret of vim sealed-else"):
        open_keyring(tmp_path / "keys", registry)


def test_check_tries_every_sealed_secret_and_names_those_that_do_not_open(
    registry: Registry, tmp_path: Path
) -> None:
    keyring = Keyring.create(tmp_path / "keys")
    stranger = Keyring.create(tmp_path / "other")
    for n in range(3):
        seal_vim(registry, keyring, f"good-{n}")
    seal_vim(registry, stranger, "bad-vim")
    seal_webhook(registry, keyring, "good-hook")
    seal_webhook(registry, stranger, "bad-hook")
    with registry.transaction() as session:
        session.add(Vim(**vim_row("nothing-sealed")))

    tried, failed = check(registry, keyring)
    assert tried == 6
    assert [(s.kind, s.id) for s in failed] == [("vim", "bad-vim"), ("webhook", "bad-hook")]
