"""A `vimwatch serve` process of the benchmark's own, on a loopback port and a scratch
state dir, so that registration and API figures include the real HTTP stack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


class BenchServer:
    def __init__(
        self, state_dir: Path, role: str = "serve", start_timeout: float = 900, **settings: str
    ) -> None:
        self.role = role
        self.start_timeout = start_timeout
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_dir = state_dir
        self.env = {
            **os.environ,
            "VIMWATCH_STATE_DIR": str(state_dir),
            "VIMWATCH_VALIDATE_VIMS": "false",
            **{f"VIMWATCH_{key.upper()}": value for key, value in settings.items()},
        }
        self.env.pop("VIMWATCH_CONFIG", None)
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BenchServer:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = (self.state_dir / "server.log").open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "vimwatch", self.role, "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_serving()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_serving(self) -> None:
        # A large fleet is claimed and loaded before the server answers: minutes at 100k.
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.state_dir / 'server.log'}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=10).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not come up within {self.start_timeout:g} s")

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    @property
    def pid(self) -> int:
        """The server's process id, for reading its (and its children's) cost."""
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def rss_bytes(self) -> int:
        """Resident memory of the server process (API, conductor and engine together)."""
        with open(f"/proc/{self._process.pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def monitors(self) -> int:
        """Monitors the embedded engine runs right now."""
        return httpx.get(f"{self.url}/healthz", timeout=30).json()["monitors"] or 0

    def wait_for_monitors(self, count: int, timeout: float) -> float:
        """Seconds until `count` monitors run (or the timeout, then the count is short)."""
        began = time.monotonic()
        while self.monitors() < count and time.monotonic() - began < timeout:
            time.sleep(0.05)
        return time.monotonic() - began
