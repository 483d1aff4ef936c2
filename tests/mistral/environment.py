"""Mistral's own virtual environment for the tests, built once per machine and reused.

Mistral must not share vimwatch's environment, and installing it takes about a minute, which
CI cannot pay on every rerun of the same machine. So it lives under a fixed cache directory
named after a hash of its pins (and the Python version): a rerun finds it complete and
installs nothing, a change of pins builds a new one beside it. A file lock keeps two runs
from building it at once; a marker written last tells a finished build from a cut-short one.

vimwatch itself is installed into it from this checkout with `pip install '<copy>[mistral]'`
(the way an operator installs the action), again only when the sources changed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
CHECKOUT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
DEFAULT_CACHE = Path("/var/cache/vimwatch-tests")
COMPLETE = ".vimwatch-complete"
INSTALLED = ".vimwatch-installed"
INSTALL_TIMEOUT = 1200
PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONWARNINGS": "ignore"}


def cache_root() -> Path:
    """VIMWATCH_TEST_CACHE, else /var/cache (root, as CI), else the user's own cache."""
    configured = os.environ.get("VIMWATCH_TEST_CACHE")
    if configured:
        return Path(configured)
    if os.access(DEFAULT_CACHE.parent, os.W_OK) or os.access(DEFAULT_CACHE, os.W_OK):
        return DEFAULT_CACHE
    return Path.home() / ".cache" / "vimwatch-tests"


def environment_dir() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return cache_root() / f"mistral-server-{digest.hexdigest()[:16]}"


def ensure_mistral_environment() -> Path:
    """The environment's directory, with Mistral and this checkout's vimwatch installed."""
    target = environment_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / COMPLETE).exists():
            _build(target)
        sources = _sources_digest()
        marker = target / INSTALLED
        if not marker.exists() or marker.read_text() != sources:
            _install_vimwatch(target)
            marker.write_text(sources)
    return target


def _run(command: list[str], log: Path, what: str) -> None:
    with log.open("a") as out:
        result = subprocess.run(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **PIP_ENV},
            timeout=INSTALL_TIMEOUT,
        )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed; see {log}")


def _build(target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    log = target.with_name(target.name + ".log")
    log.write_text("")
    _run([sys.executable, "-m", "venv", str(target)], log, "creating Mistral's environment")
    _run(
        [str(target / "bin" / "pip"), "install", "-r", str(REQUIREMENTS)],
        log,
        "installing Mistral",
    )
    (target / COMPLETE).write_text(REQUIREMENTS.read_text())


def _package_files() -> list[Path]:
    files = [CHECKOUT / "pyproject.toml", CHECKOUT / "README.md"]
    files += sorted(
        path
        for path in (CHECKOUT / "vimwatch").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    return files


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in _package_files():
        digest.update(str(path.relative_to(CHECKOUT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _install_vimwatch(target: Path) -> None:
    """Install from a copy, so the build leaves no build/ or egg-info in the checkout."""
    log = target.with_name(target.name + ".log")
    with tempfile.TemporaryDirectory(prefix="vimwatch-src-") as copy:
        for path in _package_files():
            destination = Path(copy) / path.relative_to(CHECKOUT)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        pip = str(target / "bin" / "pip")
        _run([pip, "uninstall", "-y", "vimwatch"], log, "removing the previous vimwatch")
        _run(
            [pip, "install", "--no-build-isolation", f"{copy}[mistral]"],
            log,
            "installing vimwatch into Mistral's environment",
        )
        _run([pip, "check"], log, "checking Mistral's environment")
