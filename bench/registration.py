"""Registration: 10,000 VIMs one API call each, and the same through the bulk import.

A VIM counts as registered once its workflow was created and executed and its monitor
runs in the engine, so the clock stops when the engine reports that many monitors, not
when the last POST returns. Validation is off (VIMWATCH_VALIDATE_VIMS=false): the
figure is vimwatch's own cost, not that of logging in to ten thousand clouds.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.report import Figure, save
from bench.server import BenchServer
from bench.targets import loopback_addresses

ONE_BY_ONE_SECONDS = 15.0
BULK_SECONDS = 3.0
CLIENTS = 8  # concurrent API clients for the one-call-each run


def _body(number: int, address: str) -> dict[str, Any]:
    return {
        "name": f"bench-{number}",
        "type": "openstack",
        "auth_url": f"http://{address}/identity",
        "auth_cred": {"username": "nfv_user", "password": "s3cret"},
        "vim_project": {"name": "nfv"},
    }


def _one_by_one(server: BenchServer, bodies: list[dict[str, Any]]) -> tuple[float, float]:
    """(seconds until every POST returned, seconds until every monitor ran)."""
    failures: list[str] = []
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                response = http.post("/v1.0/vims", json={"vim": bodies[index]})
                if response.status_code != 201:
                    failures.append(response.text[:200])

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posted = time.monotonic() - began
    if failures:
        raise RuntimeError(f"{len(failures)} registrations failed, first: {failures[0]}")
    server.wait_for_monitors(len(bodies), timeout=600)
    return posted, time.monotonic() - began


def _bulk(server: BenchServer, bodies: list[dict[str, Any]]) -> tuple[float, float]:
    began = time.monotonic()
    response = httpx.post(f"{server.url}/v1.0/vims/import", json={"vims": bodies}, timeout=600)
    posted = time.monotonic() - began
    if response.status_code != 201:
        raise RuntimeError(f"import failed: {response.text[:300]}")
    server.wait_for_monitors(len(bodies), timeout=600)
    return posted, time.monotonic() - began


def run(quick: bool, results: Path) -> list[Figure]:
    count = 200 if quick else 10_000
    bodies = [_body(n, a) for n, a in enumerate(loopback_addresses(count))]
    with tempfile.TemporaryDirectory(prefix="vimwatch-bench-") as scratch:
        with BenchServer(Path(scratch) / "one") as server:
            one_posted, one_running = _one_by_one(server, bodies)
        with BenchServer(Path(scratch) / "bulk") as server:
            bulk_posted, bulk_running = _bulk(server, bodies)
    figures = [
        Figure(
            f"registration, {count:,} one call each",
            f"{one_running:.1f} s to all monitors running ({count / one_running:.0f} VIMs/s; "
            f"POSTs done in {one_posted:.1f} s)",
            f"< {ONE_BY_ONE_SECONDS:g} s",
            one_running < ONE_BY_ONE_SECONDS,
            "Mistral: n/a (no mistral backend measured in this run)",
        ),
        Figure(
            f"registration, {count:,} through import",
            f"{bulk_running:.2f} s to all monitors running (POST done in {bulk_posted:.2f} s)",
            f"< {BULK_SECONDS:g} s",
            bulk_running < BULK_SECONDS,
        ),
    ]
    details = {
        "vims": count,
        "clients": CLIENTS,
        "one_by_one": {"posted": one_posted, "running": one_running},
        "bulk": {"posted": bulk_posted, "running": bulk_running},
    }
    save("registration", figures, details, results)
    return figures
