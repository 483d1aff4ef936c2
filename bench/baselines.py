"""The two baselines every probing figure is compared with, measured in the same run.

- fping in its fastest mode (`-i 0`) over the same loopback targets: what a tight C
  pinger pays per probe, kernel included.
- the old design: a thread per VIM running `ping -c 1 -W 1 -i 1` as a subprocess, then
  sleeping to the interval. It is run on a small sample (a thousand threads forking
  would measure the machine, not the design) and reported per probe, which is what
  scales linearly with the VIM count.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

from bench.process import children_cpu_seconds, cpu_seconds


@dataclass(frozen=True)
class Baseline:
    name: str
    probes: int
    cpu_seconds: float

    @property
    def cpu_us_per_probe(self) -> float:
        return self.cpu_seconds / self.probes * 1e6 if self.probes else float("nan")


def ensure_command(command: str, package: str) -> str:
    """A baseline's program, installed from Debian's packages on first use (as root)."""
    found = shutil.which(command)
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-q", package], check=True, capture_output=True)
    found = shutil.which(command)
    if not found:
        raise RuntimeError(f"{command} is not installed and apt-get could not install {package}")
    return found


def fping(addresses: list[str], rounds: int) -> Baseline:
    """`fping -i 0` sending `rounds` echoes to each address; CPU of the fping process."""
    binary = ensure_command("fping", "fping")
    with tempfile.NamedTemporaryFile("w", suffix=".targets") as targets:
        targets.write("\n".join(addresses) + "\n")
        targets.flush()
        before = children_cpu_seconds()
        done = subprocess.run(
            [binary, "-q", "-i", "0", "-c", str(rounds), "-f", targets.name],
            capture_output=True,
            text=True,
        )
        spent = children_cpu_seconds() - before
    # fping exits 1 when some target lost a packet, 2+ on real errors.
    if done.returncode > 1:
        raise RuntimeError(f"fping failed: {done.stderr.strip()[:200]}")
    return Baseline("fping -i 0", len(addresses) * rounds, spent)


def fping_steady(addresses: list[str], short: int = 3, long: int = 13) -> tuple[Baseline, Baseline]:
    """fping's cost per probe once running: the difference of a long and a short run over
    the same targets, so reading and resolving them (its start-up) cancels out. Returns
    (steady state, the short run alone), the second to show how much start-up weighs."""
    brief, lengthy = fping(addresses, short), fping(addresses, long)
    steady = Baseline(
        f"fping -i 0, steady state (-c {long} minus -c {short})",
        lengthy.probes - brief.probes,
        max(0.0, lengthy.cpu_seconds - brief.cpu_seconds),
    )
    return steady, brief


def thread_per_vim(addresses: list[str], seconds: float, interval: float = 1.0) -> Baseline:
    """The old monitor: one thread per VIM, each forking `ping` once per interval."""
    ping = ensure_command("ping", "iputils-ping")
    sent = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def monitor(address: str) -> None:
        while time.monotonic() < stop:
            began = time.monotonic()
            subprocess.run(
                [ping, "-c", "1", "-W", "1", "-i", "1", address],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            with lock:
                sent[0] += 1
            time.sleep(max(0.0, interval - (time.monotonic() - began)))

    before = cpu_seconds() + children_cpu_seconds()
    threads = [threading.Thread(target=monitor, args=(a,), daemon=True) for a in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spent = cpu_seconds() + children_cpu_seconds() - before
    return Baseline("thread per VIM + ping", sent[0], spent)
