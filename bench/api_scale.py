"""The API at fleet scale: a page of `vim list` and the counts by status, with a million
VIMs in the registry (SQLite, the embedded default's database).

The fleet is written straight into the database (bench.fleet) and served by an `api`
process, which runs no engine: the figure is what a client waits for, not what a
million monitors would take from the same two cores.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.fleet import insert_fleet
from bench.report import Figure, save
from bench.server import BenchServer
from bench.targets import loopback_addresses
from vimwatch.registry.database import Registry, make_db_engine, migrate

TARGET_SECONDS = 0.050
REPEATS = 20


def _timed(client: httpx.Client, path: str, params: dict | None = None) -> list[float]:
    client.get(path, params=params)  # warm the page cache and the connection
    took = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        response = client.get(path, params=params)
        took.append(time.perf_counter() - began)
        response.raise_for_status()
    return took


def _figure(name: str, took: list[float], what: str) -> Figure:
    median = statistics.median(took)
    worst = max(took)
    return Figure(
        name,
        f"median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms ({what})",
        f"< {TARGET_SECONDS * 1000:.0f} ms",
        median < TARGET_SECONDS,
        details={"seconds": took},
    )


def run(quick: bool, results: Path) -> list[Figure]:
    count = 2000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="vimwatch-bench-") as scratch:
        state = Path(scratch) / "state"
        state.mkdir()
        db_engine = make_db_engine(f"sqlite:///{state / 'vimwatch.db'}")
        migrate(db_engine)
        began = time.monotonic()
        ids = insert_fleet(Registry(db_engine), loopback_addresses(count), interval=10.0)
        db_engine.dispose()
        built = time.monotonic() - began
        with (
            BenchServer(state, role="api") as server,
            httpx.Client(base_url=server.url, timeout=120) as client,
        ):
            first = _timed(client, "/v1.0/vims", {"limit": 100})
            deep = _timed(client, "/v1.0/vims", {"limit": 100, "marker": ids[count // 2]})
            counts = _timed(client, "/v1.0/vims/counts")
            began = time.perf_counter()
            unpaged = client.get("/v1.0/vims")
            unpaged_seconds = time.perf_counter() - began
            held = len(unpaged.json()["vims"])
    figures = [
        _figure(f"vim list page at {count:,} VIMs", first, "first 100"),
        _figure(f"vim list deep page at {count:,}", deep, f"100 after VIM #{count // 2:,}"),
        _figure(f"counts by status at {count:,}", counts, "GET /v1.0/vims/counts"),
    ]
    details = {
        "vims": count,
        "fleet_build_seconds": built,
        "unpaged_list": {"vims": held, "seconds": unpaged_seconds},
    }
    save("api", figures, details, results)
    return figures
