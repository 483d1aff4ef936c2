"""Key rotation re-encrypts every credential under a new key while the server keeps serving."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from tests.conftest import PASSWORD
from tests.service import Server
from vimwatch.registry.database import Registry, make_db_engine, migrate
from vimwatch.secrets.keyring import KEY_FILE, Keyring, KeyringError, write_keys
from vimwatch.secrets.rotation import add_primary_key, prune_old_keys, reseal_all


def sealed_values(state_dir: Path) -> list[str]:
    with sqlite3.connect(state_dir / "vimwatch.db") as db:
        return [row[0] for row in db.execute("SELECT sealed_secrets FROM vims")]


def primary_opens(state_dir: Path, token: str) -> bool:
    primary = (state_dir / "keys" / KEY_FILE).read_bytes().split()[0]
    try:
        Fernet(primary).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def register(server: Server, keystone, name: str) -> str:  # noqa: ANN001
    body = {
        "vim": {
            "name": name,
            "type": "openstack",
            "auth_url": keystone.url,
            "auth_cred": {"username": "nfv_user", "password": PASSWORD},
            "vim_project": {"name": "nfv"},
        }
    }
    response = server.api("POST", "/v1.0/vims", json=body)
    assert response.status_code == 201, response.text
    return response.json()["vim"]["id"]


def test_rotation_while_serving_then_prune(server: Server, keystone) -> None:
    ids = [register(server, keystone, f"vim{n}") for n in range(3)]
    old_primary = (server.state_dir / "keys" / KEY_FILE).read_bytes().split()[0]

    rotated = server.cli("keys", "rotate")
    assert "re-encrypted 3 sealed credentials" in rotated.stdout
    assert all(primary_opens(server.state_dir, t) for t in sealed_values(server.state_dir))
    assert (server.state_dir / "keys" / KEY_FILE).read_bytes().split()[1] == old_primary

    # The running server seals with the new key and still opens what it stored.
    ids.append(register(server, keystone, "after-rotation"))
    change = {"vim": {"auth_cred": {"username": "nfv_user", "password": PASSWORD}}}
    assert server.api("PUT", f"/v1.0/vims/{ids[0]}", json=change).status_code == 200
    assert all(primary_opens(server.state_dir, t) for t in sealed_values(server.state_dir))

    pruned = server.cli("keys", "rotate", "--prune")
    assert "dropped 2 old key(s)" in pruned.stdout
    assert len((server.state_dir / "keys" / KEY_FILE).read_bytes().split()) == 1
    # Re-validating needs the decrypted password: proof the server reads the pruned file.
    assert (
        server.api(
            "PUT", f"/v1.0/vims/{ids[1]}", json={"vim": {"vim_project": {"name": "nfv"}}}
        ).status_code
        == 200
    )


def test_prune_refuses_while_a_secret_still_needs_an_old_key(tmp_path: Path) -> None:
    db_engine = make_db_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(db_engine)
    registry = Registry(db_engine)
    keys = tmp_path / "keys"
    old = Keyring.create(keys)
    stale = old.seal(b'{"password": "x"}')
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.execute(
            "INSERT INTO vims (id, type, tenant_id, name, description, status, auth_url,"
            " vim_project, auth_cred, sealed_secrets, extra, is_default, tombstone, created_at)"
            " VALUES ('v', 'openstack', 'p', 'n', '', 'PENDING', 'http://127.0.0.1/v3', '{}',"
            " '{}', ?, '{}', 0, '', '2026-01-01 00:00:00')",
            (stale,),
        )
    reseal_all(registry, add_primary_key(keys, registry))
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.execute("UPDATE vims SET sealed_secrets = ?", (stale,))
    with pytest.raises(KeyringError, match="still sealed with an old key"):
        prune_old_keys(registry, keys)
    assert len(Keyring.open(keys).keys) == 2


def test_a_rewritten_key_file_stays_private(tmp_path: Path) -> None:
    write_keys(tmp_path, [Fernet.generate_key()])
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0
