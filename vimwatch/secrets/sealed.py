"""The sealed secrets in the registry, and whether the key file can open them.

A key file is only worth something together with the rows it sealed. So a server never
makes a first key while any row holds a sealed secret (that would leave every one of them
unreadable, and every update and webhook delivery failing), and refuses to start with keys
that do not open them; `vimwatch keys check` opens every one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from vimwatch.registry.database import Registry
from vimwatch.registry.models import Vim, Webhook
from vimwatch.secrets.keyring import KEY_FILE, Keyring, KeyringError

# (what an operator calls a row, model, sealed column, the column that names the row)
SEALED_COLUMNS: tuple[tuple[str, type[Vim] | type[Webhook], str, str], ...] = (
    ("vim", Vim, "sealed_secrets", "name"),
    ("webhook", Webhook, "sealed_secret", "url"),
)
BATCH = 1000


@dataclass(frozen=True)
class Sealed:
    kind: str
    id: str
    label: str
    token: str

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.label})"


def sealed_secrets(registry: Registry, per_table: int | None = None) -> Iterator[Sealed]:
    """Every sealed value (or the first `per_table` of each table), in id order, read in
    batches so that a million rows never sit in memory at once."""
    for kind, model, column, label in SEALED_COLUMNS:
        attribute = getattr(model, column)
        left, last_id = per_table, ""
        while left is None or left > 0:
            batch = BATCH if left is None else min(BATCH, left)
            with registry.reading() as session:
                rows = session.execute(
                    select(model.id, getattr(model, label), attribute)
                    .where(attribute != "", model.id > last_id)
                    .order_by(model.id)
                    .limit(batch)
                ).all()
            for row_id, name, token in rows:
                yield Sealed(kind, row_id, name, token)
            if len(rows) < batch:
                break
            last_id = rows[-1][0]
            if left is not None:
                left -= len(rows)


def check(
    registry: Registry, keyring: Keyring, per_table: int | None = None
) -> tuple[int, list[Sealed]]:
    """How many sealed values were tried (all, or the first `per_table` of each table),
    and those the keys cannot open."""
    tried, failed = 0, []
    for sealed in sealed_secrets(registry, per_table):
        tried += 1
        try:
            keyring.unseal(sealed.token)
        except KeyringError:
            failed.append(sealed)
    return tried, failed


RESTORE_HINT = (
    "restore it from backup (mode 0600), then run 'vimwatch keys check' to verify "
    "that it opens every sealed secret"
)


def open_keyring(key_dir: Path, registry: Registry) -> Keyring:
    """The keyring a server starts with: made on first start only, checked on every other.

    One sealed value per table is opened, which catches a key file swapped for another
    without reading a million rows at every start; `vimwatch keys check` reads them all.
    """
    if not (key_dir / KEY_FILE).exists():
        if next(sealed_secrets(registry, per_table=1), None) is not None:
            raise KeyringError(
                f"the key file {key_dir / KEY_FILE} is missing, but the database holds "
                f"secrets sealed with it that a new key would never open: {RESTORE_HINT}"
            )
        return Keyring.create(key_dir)
    keyring = Keyring.open(key_dir)
    _, failed = check(registry, keyring, per_table=1)
    if failed:
        raise KeyringError(
            f"the key file {keyring.path} does not open the sealed secret of {failed[0]}: "
            f"{RESTORE_HINT}"
        )
    return keyring
