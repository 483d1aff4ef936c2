"""The Fernet keys that seal VIM credentials.

Keys live in one file in the state dir, newest first, so that a later rotation can add a
key while older ciphertexts stay readable (MultiFernet). A database dump alone therefore
reveals no credential. The file must be private: a key others can read is no secret, and
the service refuses to start with one rather than run insecurely.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from vimwatch.errors import VimwatchError

KEY_FILE = "fernet.keys"


class KeyringError(VimwatchError):
    """The key file is missing, unreadable, unsafe, or cannot open a stored secret."""


class Keyring:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise KeyringError("the key file holds no key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def open(cls, key_dir: Path) -> Keyring:
        """Load the keys, creating a first key (0600, in a 0700 dir) on first start."""
        path = key_dir / KEY_FILE
        if not path.exists():
            key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key() + b"\n")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyringError(
                f"refusing to use {path}: its mode is {mode:04o}, others can read it; "
                f"run 'chmod 600 {path}'"
            )
        try:
            lines = path.read_bytes().split()
            return cls([line for line in lines if line])
        except ValueError as exc:
            raise KeyringError(f"{path} does not hold valid Fernet keys") from exc

    def seal(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode()

    def unseal(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode())
        except InvalidToken as exc:
            raise KeyringError(
                "a stored credential cannot be decrypted with the current keys"
            ) from exc
