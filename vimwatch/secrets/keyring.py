"""The Fernet keys that seal VIM credentials.

Keys live in one file in the state dir, newest first, so that rotation can add a key
while older ciphertexts stay readable (MultiFernet). A database dump alone therefore
reveals no credential. The file must be private: a key others can read is no secret, and
the service refuses to start with one rather than run insecurely. Running processes
re-read the file when it changes, so a rotation needs no restart.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from vimwatch.errors import VimwatchError

KEY_FILE = "fernet.keys"


class KeyringError(VimwatchError):
    """The key file is missing, unreadable, unsafe, or cannot open a stored secret."""


def _read_keys(path: Path) -> list[bytes]:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyringError(
            f"refusing to use {path}: its mode is {mode:04o}, others can read it; "
            f"run 'chmod 600 {path}'"
        )
    keys = [line for line in path.read_bytes().split() if line]
    if not keys:
        raise KeyringError(f"{path} holds no key")
    try:
        for key in keys:
            Fernet(key)
    except ValueError as exc:
        raise KeyringError(f"{path} does not hold valid Fernet keys") from exc
    return keys


def write_keys(key_dir: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically, never leaving a moment where it is readable by others."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = key_dir / f".{KEY_FILE}.{os.getpid()}"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"".join(key + b"\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, key_dir / KEY_FILE)


class Keyring:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: list[bytes] = []
        self._fernet: MultiFernet | None = None
        self._refresh()

    @classmethod
    def open(cls, key_dir: Path) -> Keyring:
        """Load the keys, creating a first key (0600, in a 0700 dir) on first start."""
        if not (key_dir / KEY_FILE).exists():
            write_keys(key_dir, [Fernet.generate_key()])
        return cls(key_dir / KEY_FILE)

    @property
    def keys(self) -> list[bytes]:
        self._refresh()
        return list(self._keys)

    def seal(self, plaintext: bytes) -> str:
        return self._current().encrypt(plaintext).decode()

    def unseal(self, token: str) -> bytes:
        try:
            return self._current().decrypt(token.encode())
        except InvalidToken as exc:
            raise KeyringError(
                "a stored credential cannot be decrypted with the current keys"
            ) from exc

    def reseal(self, token: str) -> str:
        """The same secret under the newest key (for rotation)."""
        try:
            return self._current().rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise KeyringError("a stored credential cannot be decrypted for rotation") from exc

    def _current(self) -> MultiFernet:
        self._refresh()
        assert self._fernet is not None
        return self._fernet

    def _refresh(self) -> None:
        try:
            info = self.path.stat()
        except OSError as exc:
            raise KeyringError(f"cannot read the key file {self.path}: {exc.strerror}") from None
        stamp = (info.st_mtime_ns, info.st_ino)
        if stamp == self._stamp:
            return
        with self._lock:
            keys = _read_keys(self.path)
            self._keys, self._fernet = keys, MultiFernet([Fernet(key) for key in keys])
            self._stamp = stamp
