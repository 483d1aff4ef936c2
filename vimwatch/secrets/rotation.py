"""Key rotation: a new primary key, every sealed secret re-encrypted under it, no downtime.

Running servers notice the new key file and start sealing with the new key; rows are
re-encrypted in small transactions so the API never waits long on a lock. Old keys stay
readable until `prune`, which only drops them once no row needs them any more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, select

from vimwatch.registry.database import Registry
from vimwatch.registry.models import Vim, Webhook
from vimwatch.secrets.keyring import Keyring, KeyringError, write_keys
from vimwatch.secrets.sealed import SEALED_COLUMNS, open_keyring, sealed_secrets

BATCH = 500


def add_primary_key(key_dir: Path, registry: Registry) -> Keyring:
    """Only on top of keys that open what is sealed: rotating away from a lost key file
    would re-encrypt nothing and make the loss permanent."""
    keyring = open_keyring(key_dir, registry)
    write_keys(key_dir, [Fernet.generate_key(), *keyring.keys])
    return Keyring.open(key_dir)


def count_sealed(registry: Registry) -> int:
    """How many values reseal_all will re-encrypt (for a progress bar)."""
    with registry.reading() as session:
        return sum(
            session.scalar(select(func.count()).where(getattr(model, column) != ""))
            for _, model, column, _ in SEALED_COLUMNS
        )


def reseal_all(
    registry: Registry, keyring: Keyring, progress: Callable[[int], None] = lambda n: None
) -> int:
    """Re-encrypt every sealed value under the primary key; returns how many were changed."""
    changed = 0
    for _, model, column, _ in SEALED_COLUMNS:
        attribute = getattr(model, column)
        last_id = ""
        while True:
            with registry.transaction() as session:
                rows: list[Vim | Webhook] = list(
                    session.scalars(
                        select(model)
                        .where(attribute != "", model.id > last_id)
                        .order_by(model.id)
                        .limit(BATCH)
                        .with_for_update()
                    )
                )
                for row in rows:
                    setattr(row, column, keyring.reseal(getattr(row, column)))
            if not rows:
                break
            last_id = rows[-1].id
            changed += len(rows)
            progress(len(rows))
    return changed


def prune_old_keys(registry: Registry, key_dir: Path) -> int:
    """Drop every key but the primary, after checking the primary opens every sealed value."""
    keyring = Keyring.open(key_dir)
    primary = Fernet(keyring.keys[0])
    for sealed in sealed_secrets(registry):
        try:
            primary.decrypt(sealed.token.encode())
        except InvalidToken:
            raise KeyringError(
                f"the secret of {sealed} is still sealed with an old key; run the rotation again"
            ) from None
    dropped = len(keyring.keys) - 1
    write_keys(key_dir, keyring.keys[:1])
    return dropped
