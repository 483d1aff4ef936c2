"""Running a real OpenStack command-line client the way an operator does, and reading its output.

Each run gets a clean environment: no OS_* variable, clouds.yaml or home directory of the
person running the tests can change what the client does or where it connects.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIMEOUT = 120
_INHERITED = ("PATH", "LANG", "LC_ALL", "TMPDIR")


@dataclass
class Client:
    """One client program (e.g. `openstack`) from its own environment, with fixed options."""

    program: Path
    options: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    home: Path | None = None

    def with_options(self, *options: str, **env: str) -> Client:
        """The same program with more options or variables, e.g. another user's OS_*."""
        return Client(self.program, (*self.options, *options), {**self.env, **env}, self.home)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {key: os.environ[key] for key in _INHERITED if key in os.environ}
        env["PYTHONWARNINGS"] = "ignore"
        if self.home is not None:
            env["HOME"] = str(self.home)
            env["XDG_CONFIG_HOME"] = str(self.home / ".config")
        env.update(self.env)
        command = [str(self.program), *self.options, *args]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{self.program.name} {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def fails(self, *args: str) -> str:
        """Run a command that must fail, and return what it told the user."""
        result = self.run(*args, check=False)
        assert result.returncode != 0, f"{' '.join(args)} succeeded:\n{result.stdout}"
        return result.stdout + result.stderr

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-f", "json").stdout)

    def value(self, *args: str) -> str:
        return self.run(*args, "-f", "value").stdout.strip()

    def csv(self, *args: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.run(*args, "-f", "csv").stdout)))


def table(output: str) -> list[dict[str, str]]:
    """The rows of the table a client printed in its default format (cells stripped).

    Lines outside the table, such as tacker's "Created a new vim:", are ignored, so the
    seed's commands can be run exactly as written and still be checked cell by cell.
    """
    lines = [line for line in output.splitlines() if line.startswith("|")]
    if not lines:
        return []
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, body = cells[0], cells[1:]
    return [dict(zip(header, row, strict=True)) for row in body]


def fields(output: str) -> dict[str, str]:
    """A show command's Field/Value table as a dict."""
    return {row["Field"]: row["Value"] for row in table(output)}


def listed(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows with content: python-mistralclient prints one blank row for an empty list."""
    return [row for row in rows if any(row.values())]
