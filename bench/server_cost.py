"""The whole `vimwatch serve` process, as an operator of the embedded default runs it:
CPU per probe (the cost of one more probe between two fleet sizes), its fixed cost apart,
and resident memory per VIM, beside fping's steady state from the same invocation.

Each fleet size gets a fresh server on a scratch state dir, its VIMs imported through the
API, and is measured once every monitor runs and the loop has settled. CPU and memory
are those of the server and every process below it.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import baselines
from bench.process import tree_cpu_seconds, tree_rss_bytes
from bench.report import Figure, save
from bench.runs import scheduler_load
from bench.server import BenchServer
from bench.targets import loopback_addresses

TARGET_VS_FPING = 1.5
FIXED_CORES = 0.05
BYTES_PER_VIM = 1024
_BATCH = 10_000
_SENT = re.compile(r"^vimwatch_probes_sent(?:_total)?\s+([0-9.e+]+)$", re.MULTILINE)


def _import(server: BenchServer, count: int) -> None:
    addresses = list(loopback_addresses(count))
    for first in range(0, count, _BATCH):
        bodies = [
            {
                "name": f"bench-{number}",
                "type": "openstack",
                "auth_url": f"http://{address}/identity",
                "auth_cred": {"username": "nfv_user", "password": "s3cret"},
                "vim_project": {"name": "nfv"},
            }
            for number, address in enumerate(addresses[first : first + _BATCH], start=first)
        ]
        response = httpx.post(f"{server.url}/v1.0/vims/import", json={"vims": bodies}, timeout=600)
        if response.status_code != 201:
            raise RuntimeError(f"import failed: {response.text[:300]}")
    server.wait_for_monitors(count, timeout=900)


def _probes_sent(server: BenchServer) -> float:
    found = _SENT.search(httpx.get(f"{server.url}/metrics", timeout=30).text)
    return float(found.group(1)) if found else 0.0


def _measure(count: int, seconds: float, settle: float, scratch: Path) -> dict[str, Any]:
    settings = {"monitor_interval": "1", "monitor_timeout": "1"}
    with BenchServer(scratch / f"serve-{count}", **settings) as server:
        if count:
            _import(server, count)
        time.sleep(settle)
        pid = server.pid
        sent, cpu, began = _probes_sent(server), tree_cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        spent, elapsed = tree_cpu_seconds(pid) - cpu, time.monotonic() - began
        probes = _probes_sent(server) - sent
        return {
            "vims": count,
            "seconds": elapsed,
            "cpu_seconds": spent,
            "cores": spent / elapsed,
            "probes": probes,
            "rss_bytes": tree_rss_bytes(pid),
        }


def run(quick: bool, results: Path) -> list[Figure]:
    small, large = (200, 1_000) if quick else (10_000, 100_000)
    seconds, settle = (3.0, 1.0) if quick else (20.0, 5.0)
    with tempfile.TemporaryDirectory(prefix="vimwatch-bench-") as scratch:
        idle, few, many = (_measure(n, seconds, settle, Path(scratch)) for n in (0, small, large))
    steady, short = baselines.fping_steady(list(loopback_addresses(500 if quick else 10_000)))
    bare = scheduler_load(small, interval=1.0, seconds=seconds)
    per_probe = (many["cpu_seconds"] - few["cpu_seconds"]) / max(
        1.0, many["probes"] - few["probes"]
    )
    per_probe_us = per_probe * 1e6
    vs_fping = per_probe_us / steady.cpu_us_per_probe
    fixed_few = few["cores"] - per_probe * few["probes"] / few["seconds"]
    per_vim = (many["rss_bytes"] - idle["rss_bytes"]) / large
    figures = [
        Figure(
            "whole server, CPU per probe",
            f"{per_probe_us:.1f} µs ({vs_fping:.2f}× fping steady), {small:,} → {large:,} VIMs",
            f"≤ {TARGET_VS_FPING}× fping steady state (stretch 1×)",
            vs_fping <= TARGET_VS_FPING,
            f"fping steady: {steady.cpu_us_per_probe:.1f} µs; fping -c 3 alone: "
            f"{short.cpu_us_per_probe:.1f} µs; bare scheduler at {small:,}: "
            f"{bare['cpu_us_per_probe']:.1f} µs",
        ),
        Figure(
            "whole server, fixed cost",
            f"idle with 0 VIMs {idle['cores']:.3f} core; beyond the probes at {small:,}: "
            f"{fixed_few:.3f} core",
            f"< {FIXED_CORES:g} core",
            max(idle["cores"], fixed_few) < FIXED_CORES,
        ),
        Figure(
            "whole server, memory",
            f"{per_vim:,.0f} B RSS per VIM at {large:,}",
            f"≤ {BYTES_PER_VIM} B per VIM",
            per_vim <= BYTES_PER_VIM,
            f"RSS with 0 VIMs: {idle['rss_bytes'] / 2**20:.0f} MiB",
        ),
    ]
    details = {
        "runs": [idle, few, many],
        "fping_steady_us": steady.cpu_us_per_probe,
        "fping_short_us": short.cpu_us_per_probe,
        "bare_scheduler": bare,
    }
    save("server", figures, details, results)
    return figures
