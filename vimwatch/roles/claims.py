"""What a server takes for itself before any other start-up work: its port, its state dir.

Both are claimed first so that a second server fails at once with a message that says
why, instead of migrating, loading keys and starting monitors only to fail on the bind,
or worse, running beside the first one and probing every VIM twice.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import TextIO

from vimwatch.errors import VimwatchError

LOCK_FILE = "serve.lock"
BACKLOG = 2048  # uvicorn's default


def listen(host: str, port: int) -> socket.socket:
    """The bound, listening socket the HTTP server is then handed."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family = found[0][0]
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        raise VimwatchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def lock_state_dir(state_dir: Path) -> TextIO:
    """An exclusive lock on the state dir, held until the returned file is closed (or the
    process ends, however it ends: the kernel drops a flock with its last descriptor)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = os.fdopen(os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600), "r+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise VimwatchError(
            f"another vimwatch server (pid {holder}) is using the state directory {state_dir}; "
            "stop it first, or give this server its own state_dir (VIMWATCH_STATE_DIR)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
