"""Running one scheduler load in a fresh process and reading its JSON answer.

A fresh process per run keeps one run's memory and CPU out of the next one's figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def scheduler_load(
    vims: int, interval: float, seconds: float, timeout: float = 1.0, settle: float = 0.0
) -> dict:
    argv = [sys.executable, "-m", "bench.scheduler_load", "--vims", str(vims)]
    argv += ["--interval", str(interval), "--timeout", str(timeout), "--seconds", str(seconds)]
    argv += ["--settle", str(settle)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scheduler load of {vims} VIMs failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
