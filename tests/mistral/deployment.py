"""A real Mistral for the tests: its own database, the control plane and separate executors.

The control plane runs as `mistral-server --server api,engine,notifier,periodic` (the event
engine busy-loops a core, see the shared reference) and each executor as its own
`mistral-server --server executor`, so one can be killed alone. Each runs in a process
group of its own: a cotyledon master forks the worker, and the master hangs on SIGTERM
after its worker has gone, so stopping is SIGTERM to the group, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.service import free_port

# The settings the README recommends: an executor that stops sending heartbeats is
# declared dead after 3 x 5 s, and an action that never started after 30 s.
HEARTBEAT = {"check_interval": 5, "max_missed_heartbeats": 3, "first_heartbeat_timeout": 30}
START_TIMEOUT = 120.0


class MistralProcess:
    """One `mistral-server` master and its worker, in a process group of their own."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.command, self.env, self.log_path = command, env, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.with_suffix(".out").open("ab") as out:
            self.process = subprocess.Popen(
                [*self.command, "--log-file", str(self.log_path)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """kill -9 of the whole group: the machine running it is gone."""
        self._signal_group(signal.SIGKILL)
        self._reap(10)

    def stop(self) -> None:
        """What an operator's stop script does: SIGTERM, then SIGKILL the master that hangs."""
        if not self.alive():
            return
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(self.group_pids()) > 1:
            time.sleep(0.2)
        self.kill()

    def worker_pid(self, started: str) -> int:
        """The pid of the worker that logged `started` last (e.g. "Engine server started")."""
        lines = [line for line in self.log().splitlines() if started in line]
        if not lines:
            raise LookupError(f"no worker logged {started!r} in {self.log_path}")
        return int(lines[-1].split()[2])

    def group_pids(self) -> list[int]:
        if self.process is None:
            return []
        result = subprocess.run(
            ["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in result.stdout.split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output(self) -> str:
        """What the process wrote outside its log file: tracebacks before logging is set up."""
        out = self.log_path.with_suffix(".out")
        return out.read_text(errors="replace") if out.exists() else ""

    def _signal_group(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def _reap(self, timeout: float) -> None:
        if self.process is not None:
            self.process.wait(timeout)
            deadline = time.monotonic() + timeout
            while self.group_pids() and time.monotonic() < deadline:
                time.sleep(0.1)


class Mistral:
    """One Mistral deployment; `vimwatch_transport_url` is what its executors' actions use."""

    def __init__(
        self,
        venv: Path,
        workdir: Path,
        *,
        database_url: str,
        transport_url: str,
        vimwatch_transport_url: str,
        executor_threads: int = 64,
    ) -> None:
        self.venv = venv
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v2"
        self.config = workdir / "mistral.conf"
        self._database_url = database_url
        self._transport_url = transport_url
        self._executor_threads = executor_threads
        self._env = {**os.environ, "VIMWATCH_TRANSPORT_URL": vimwatch_transport_url}
        self.control: MistralProcess | None = None
        self.executors: dict[str, MistralProcess] = {}
        self._last_answer = "none yet"

    def prepare(self) -> None:
        """Write the config and migrate Mistral's database."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        heartbeat = "\n".join(f"{key} = {value}" for key, value in HEARTBEAT.items())
        self.config.write_text(
            f"""[DEFAULT]
transport_url = {self._transport_url}
debug = False
executor_thread_pool_size = {self._executor_threads}
[api]
host = 127.0.0.1
port = {self.port}
[pecan]
auth_enable = False
[database]
connection = {self._database_url}
[executor]
type = remote
[oslo_policy]
enforce_scope = False
enforce_new_defaults = False
[action_heartbeat]
{heartbeat}
"""
        )
        subprocess.run(
            [str(self.venv / "bin" / "mistral-db-manage"), "--config-file", str(self.config)]
            + ["upgrade", "head"],
            check=True,
            capture_output=True,
            timeout=300,
        )

    def start(self, executors: tuple[str, ...] = ("exec-a", "exec-b")) -> None:
        self.start_control()
        for name in executors:
            self.start_executor(name)

    def start_control(self) -> None:
        self.control = self._server("api,engine,notifier,periodic", "control")
        self.control.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if not self.control.alive():
                raise RuntimeError(f"Mistral exited:\n{self.control.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Mistral's API did not come up on {self.url} (last answer: "
                    f"{self._last_answer}):\n{self.control.log()[-4000:]}\n"
                    f"--- its stdout and stderr\n{self.control.output()[-4000:]}"
                )
            time.sleep(0.5)

    def start_executor(self, name: str) -> MistralProcess:
        """Start an executor and wait until it consumes run_action requests."""
        executor = self._server("executor", name)
        started = executor.log().count("Executor server started")
        executor.start()
        deadline = time.monotonic() + START_TIMEOUT
        while executor.log().count("Executor server started") == started:
            if not executor.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"executor {name} did not start:\n{executor.log()[-4000:]}")
            time.sleep(0.2)
        self.executors[name] = executor
        return executor

    def stop(self) -> None:
        for executor in self.executors.values():
            executor.stop()
        if self.control:
            self.control.stop()

    def answers(self) -> bool:
        try:
            response = httpx.get(f"{self.url}/workflows", timeout=5)
        except httpx.HTTPError as error:
            self._last_answer = repr(error)
            return False
        self._last_answer = f"{response.status_code} {response.text[:500]}"
        return response.status_code == 200

    def run(self, *args: str) -> str:
        """The real `mistral` command against this Mistral (no Keystone: OS_* unset)."""
        result = subprocess.run(
            [str(self.venv / "bin" / "mistral"), "--os-mistral-url", self.url, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("OS_")},
        )
        if result.returncode != 0:
            raise AssertionError(f"mistral {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def table(self, *args: str) -> list[dict[str, Any]]:
        """A `mistral ...-list` table as rows; the one row of empty cells the CLI prints
        for an empty list is dropped."""
        rows = json.loads(self.run(*args, "-f", "json") or "[]")
        return [row for row in rows if any(value not in ("", None) for value in row.values())]

    def _server(self, servers: str, name: str) -> MistralProcess:
        command = [str(self.venv / "bin" / "mistral-server"), "--server", servers]
        command += ["--config-file", str(self.config)]
        return MistralProcess(command, self._env, self.workdir / f"{name}.log")
