"""Virtual environments for the real OpenStack programs, built once and reused.

The clients and Keystone must never share vimwatch's environment (their pins would fight
vimwatch's), and installing them takes a minute or more, which CI cannot pay on every run
of the same machine. So each one lives under a fixed cache directory named after a hash of
its requirements file: a rerun finds it complete and installs nothing, and a change of pins
builds a new one beside it. A file lock keeps two test runs from building the same one at
once, and a marker written last tells a finished environment from one cut short.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
DEFAULT_CACHE = Path("/var/cache/vimwatch-tests")
COMPLETE = ".vimwatch-complete"
INSTALL_TIMEOUT = 1200


def cache_root() -> Path:
    """VIMWATCH_TEST_CACHE, else /var/cache (root, as CI), else the user's own cache."""
    configured = os.environ.get("VIMWATCH_TEST_CACHE")
    if configured:
        return Path(configured)
    if os.access(DEFAULT_CACHE.parent, os.W_OK) or os.access(DEFAULT_CACHE, os.W_OK):
        return DEFAULT_CACHE
    return Path.home() / ".cache" / "vimwatch-tests"


def requirements_file(name: str) -> Path:
    return HERE / f"requirements-{name}.txt"


def environment_dir(name: str) -> Path:
    """Where the environment for these exact pins (and this Python) lives."""
    digest = hashlib.sha256(requirements_file(name).read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return cache_root() / f"{name}-{digest.hexdigest()[:16]}"


def ensure_environment(name: str) -> Path:
    """The environment's directory, building it first unless a complete one exists."""
    target = environment_dir(name)
    if (target / COMPLETE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / COMPLETE).exists():
            _build(name, target)
    return target


def _build(name: str, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    log = target.with_name(target.name + ".log")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONWARNINGS": "ignore"}
    with log.open("w") as out:
        for command in (
            [sys.executable, "-m", "venv", str(target)],
            [str(target / "bin" / "pip"), "install", "-r", str(requirements_file(name))],
        ):
            result = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=INSTALL_TIMEOUT
            )
            if result.returncode != 0:
                raise RuntimeError(f"building the {name} environment failed; see {log}")
    (target / COMPLETE).write_text(requirements_file(name).read_text())
