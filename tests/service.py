"""Running a real `vimwatch serve` process for tests, and its CLI against it.

Tests drive the product the way a user does: a server process on a loopback port with
its own state dir, and the `vimwatch` command line parsed from its output.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests import polling

VIMWATCH = [sys.executable, "-m", "vimwatch"]


# Listening ports come from below the kernel's ephemeral range (32768-60999 here), so the
# port a test picks cannot be taken, before its server binds it, by the local end of some
# outgoing connection (to RabbitMQ, PostgreSQL, ...), as a port from bind(0) can.
_LISTEN_PORTS = range(20000, 32000)


def free_port() -> int:
    """A loopback port nobody listens on, outside the ephemeral range."""
    for _ in range(1000):
        port = random.choice(_LISTEN_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_LISTEN_PORTS}")


class Process:
    """One vimwatch process of any role, logging to a file beside its state dir."""

    def __init__(
        self, state_dir: Path, env: dict[str, str] | None = None, role: tuple[str, ...] = ()
    ) -> None:
        self.state_dir = state_dir
        self.role = role
        self.log_path = state_dir.with_name(f"{state_dir.name}-{'-'.join(role) or 'cli'}.log")
        self.env = {
            **os.environ,
            "VIMWATCH_STATE_DIR": str(state_dir),
            "VIMWATCH_MONITOR_INTERVAL": "0.2",
            "VIMWATCH_MONITOR_TIMEOUT": "0.2",
            # The suite drives each server from one address far faster than any real
            # caller; tests of the rate limit (tests/api/test_quotas.py) set their own.
            "VIMWATCH_RATE_LIMIT": "0",
            **(env or {}),
        }
        self.env.pop("VIMWATCH_CONFIG", None)
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self, *extra: str) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*VIMWATCH, *self.role, *extra], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> bool:
        """Signal the process and wait for it; False if it had to be killed after `timeout`."""
        exited = True
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                exited = False
                self.process.kill()
                self.process.wait()
        self.process = None
        return exited

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Server(Process):
    """A vimwatch HTTP server (the embedded default unless another role is given)."""

    def __init__(
        self,
        state_dir: Path,
        env: dict[str, str] | None = None,
        role: tuple[str, ...] = ("serve",),
    ) -> None:
        super().__init__(state_dir, env, role)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        self.launch("--port", str(self.port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                # One request that waits for the answer: the port listens before the
                # server's start-up work, and requests given up on meanwhile would each
                # still be answered, in turn, once it serves (seconds on a busy machine).
                left = max(deadline - time.monotonic(), 1.0)
                if httpx.get(f"{self.url}/healthz", timeout=left).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        # Not left running: servers that missed their start would pile up on a busy machine.
        self.stop()
        raise RuntimeError(f"server did not come up within {timeout}s:\n{self.log()}")

    def refuses_to_start(self, timeout: float = 60.0) -> str:
        """Launch the server, which must exit by itself with an error; returns its log."""
        self.launch("--port", str(self.port))
        try:
            returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"the server did not refuse to start:\n{self.log()}") from None
        self.process = None
        assert returncode != 0, self.log()
        return self.log()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.url + path, timeout=30, **kwargs)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*VIMWATCH, "--os-url", self.url, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"vimwatch {' '.join(args)} failed: {result.stderr}")
        return result

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "-f", "json").stdout)

    def wait_for(self, predicate, timeout: float = 15.0, interval: float = 0.1) -> Any:  # noqa: ANN001
        return polling.wait_for(predicate, timeout, interval)

    def register(self, name: str, address: str = "127.0.0.1", **monitor: object) -> str:
        """Register an unvalidated openstack VIM at `address`; returns its id."""
        response = self.api("POST", "/v1.0/vims", json=vim_body(name, address, **monitor))
        assert response.status_code == 201, response.text
        return response.json()["vim"]["id"]

    def monitor_states(self, vim_id: str) -> list[str]:
        """The statuses the monitor reported for a VIM, in order."""
        events = self.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()
        return [e["resource_state"] for e in events["events"] if e["event_type"] == "MONITOR"]

    def vim_status(self, vim_id: str) -> str:
        return self.api("GET", f"/v1.0/vims/{vim_id}").json()["vim"]["status"]


def vim_body(name: str, address: str = "127.0.0.1", **monitor: object) -> dict[str, Any]:
    """A Tacker VIM body for a host that is probed but whose credentials are not checked."""
    return {
        "vim": {
            "name": name,
            "type": "openstack",
            "auth_url": f"http://{address}/identity",
            "auth_cred": {"username": "u", "password": "p"},
            "vim_project": {"name": "nfv"},
            "extra": {"monitor": monitor} if monitor else {},
        }
    }


def write_openstack_config(
    path: Path, auth_url: str, password: str = "s3cret!pw", **extra: Any
) -> Path:
    config = {
        "auth_url": auth_url,
        "username": "nfv_user",
        "password": password,
        "project_name": "nfv",
        "project_domain_name": "Default",
        "user_domain_name": "Default",
        "cert_verify": "True",
        **extra,
    }
    path.write_text(json.dumps(config))
    return path
