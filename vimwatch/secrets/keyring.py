"""The Fernet keys that seal VIM credentials.

Keys live in one file in the state dir, newest first, so that rotation can add a key
while older ciphertexts stay readable (MultiFernet). A database dump alone therefore
reveals no credential. The file must be private: a key others can read is no secret, and
the service refuses to start with one rather than run insecurely. Running processes
re-read the file when it changes, so a rotation needs no restart; a change that leaves
the file unusable (a chmod, a truncation, a deletion) is reported by `problem()` and
logged once, and nothing here ever writes a new key in its place.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path
from typing import NoReturn

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from vimwatch.errors import VimwatchError

LOG = logging.getLogger(__name__)
KEY_FILE = "fernet.keys"


class KeyringError(VimwatchError):
    """The key file is missing, unreadable, unsafe, or cannot open a stored secret.

    A 503: the request was fine, the server cannot serve it until its keys are restored.
    """

    status_code = 503


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
        self._stamp: tuple[int, ...] | None = None
        self._keys: list[bytes] = []
        self._fernet: MultiFernet | None = None
        self._problem: str | None = None
        self._refresh()

    @classmethod
    def open(cls, key_dir: Path) -> Keyring:
        """Load the existing keys; a missing file is an error, never a reason to make one."""
        return cls(key_dir / KEY_FILE)

    @classmethod
    def create(cls, key_dir: Path) -> Keyring:
        """A first key (0600, in a 0700 dir), for a store that has nothing sealed yet."""
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

    def problem(self) -> str | None:
        """Why the key file cannot be used right now, or None when it can (for /healthz)."""
        try:
            self._refresh()
        except KeyringError as exc:
            return exc.message
        return None

    def _current(self) -> MultiFernet:
        self._refresh()
        assert self._fernet is not None
        return self._fernet

    def _refresh(self) -> None:
        try:
            info = self.path.stat()
        except OSError as exc:
            self._fail(
                KeyringError(
                    f"cannot read the key file {self.path}: {exc.strerror}; restore it from backup"
                )
            )
        # Mode and size as well as the times: file times can be as coarse as a clock tick,
        # and a chmod or a truncation right after a write must not go unnoticed.
        stamp = (info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_size, info.st_mode)
        if stamp != self._stamp:
            with self._lock:
                try:
                    keys = _read_keys(self.path)
                except KeyringError as exc:
                    self._fail(exc)
                self._keys, self._fernet = keys, MultiFernet([Fernet(key) for key in keys])
                self._stamp = stamp
        if self._problem is not None:
            LOG.warning("the key file %s is usable again", self.path)
            self._problem = None

    def _fail(self, error: KeyringError) -> NoReturn:
        """Raise, logging once when keys this process was using stop being usable."""
        if self._keys and error.message != self._problem:
            LOG.error("%s; secrets cannot be sealed or opened until it is fixed", error.message)
        self._problem = error.message
        raise error
