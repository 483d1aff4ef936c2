"""A lost, swapped, exposed or corrupted key file, against a real `vimwatch serve`."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from cryptography.fernet import Fernet

from tests.service import Server, vim_body
from vimwatch.secrets.keyring import KEY_FILE


def key_file(server: Server) -> Path:
    return server.state_dir / "keys" / KEY_FILE


def health(server: Server) -> tuple[int, dict]:
    response = server.api("GET", "/healthz")
    return response.status_code, response.json()


def test_a_restart_without_the_key_file_refuses_and_says_how_to_restore_it(
    quiet_server: Server, tmp_path: Path
) -> None:
    vim_id = quiet_server.register("sealed")
    backup = shutil.copy2(key_file(quiet_server), tmp_path / "backup.keys")
    quiet_server.stop()
    key_file(quiet_server).unlink()

    log = quiet_server.refuses_to_start()
    assert f"the key file {key_file(quiet_server)} is missing" in log
    assert "restore it from backup" in log and "vimwatch keys check" in log
    assert not key_file(quiet_server).exists()

    shutil.copy2(backup, key_file(quiet_server))
    assert "all 1 sealed secrets open" in quiet_server.cli("keys", "check").stdout
    quiet_server.start()
    # An update re-seals the credentials, which needs the restored key to open them first.
    change = {"vim": {"auth_cred": {"username": "u2"}}}
    assert quiet_server.api("PUT", f"/v1.0/vims/{vim_id}", json=change).status_code == 200


def test_keys_check_passes_on_a_good_store_and_names_each_vim_a_bad_key_cannot_open(
    quiet_server: Server,
) -> None:
    good = quiet_server.register("good")
    bad = quiet_server.register("resealed-elsewhere")
    body = {"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "hook-secret"}}
    assert quiet_server.api("POST", "/v1.0/webhooks", json=body).status_code == 201

    passed = quiet_server.cli("keys", "check")
    assert passed.returncode == 0
    assert f"all 3 sealed secrets open with the key file {key_file(quiet_server)}" in passed.stdout

    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"password": "p"}').decode()
    with sqlite3.connect(quiet_server.state_dir / "vimwatch.db") as db:
        db.execute("UPDATE vims SET sealed_secrets = ? WHERE id = ?", (foreign, bad))
    failed = quiet_server.cli("keys", "check", check=False)
    assert failed.returncode != 0
    assert f"1 of 3 sealed secrets do not open with the key file {key_file(quiet_server)}" in (
        failed.stderr
    )
    assert f"vim {bad} (resealed-elsewhere)" in failed.stderr
    assert good not in failed.stderr
    assert "restore it from backup" in failed.stderr


def test_a_key_file_made_world_readable_while_running_shows_in_healthz_and_the_log(
    quiet_server: Server,
) -> None:
    vim_id = quiet_server.register("exposed")
    key_file(quiet_server).chmod(0o644)
    # Logged when it happens, not only at the next request that needs the key.
    quiet_server.wait_for(lambda: "others can read it" in quiet_server.log(), timeout=60)

    status, body = health(quiet_server)
    assert status == 503 and body["status"] == "degraded"
    assert body["keys"] is False and "chmod 600" in body["keys_error"]
    assert body["database"] is True
    change = {"vim": {"auth_cred": {"username": "u2"}}}
    refused = quiet_server.api("PUT", f"/v1.0/vims/{vim_id}", json=change)
    assert refused.status_code == 503
    assert "others can read it" in refused.json()["TackerError"]["message"]

    key_file(quiet_server).chmod(0o600)
    assert health(quiet_server)[1]["keys"] is True
    assert quiet_server.api("PUT", f"/v1.0/vims/{vim_id}", json=change).status_code == 200


def test_a_key_file_corrupted_while_running_shows_in_healthz_and_is_not_replaced(
    quiet_server: Server,
) -> None:
    good = key_file(quiet_server).read_bytes()
    key_file(quiet_server).write_bytes(b"corrupted\n")

    status, body = health(quiet_server)
    assert status == 503
    assert body["keys"] is False and "does not hold valid Fernet keys" in body["keys_error"]
    refused = quiet_server.api("POST", "/v1.0/vims", json=vim_body("after"))
    assert refused.status_code == 503
    assert quiet_server.api("GET", "/v1.0/vims").json()["vims"] == []
    assert key_file(quiet_server).read_bytes() == b"corrupted\n"
    assert "does not hold valid Fernet keys" in quiet_server.log()

    key_file(quiet_server).write_bytes(good)
    assert health(quiet_server) == (200, {**body, "status": "ok", "keys": True, "keys_error": None})
