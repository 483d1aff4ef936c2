"""Availability at fleet scale: 100,000 VIMs with a year of history (about 20 status changes
per VIM a month, 24 million events) in SQLite, the embedded default's database, served by
a real `vimwatch serve`.

The history is written straight into the server's database before it starts, and the
newest 32 days are rolled up in-process with the job's own code (what the server's first
pass would do, timed apart). Once the server's fleet summary holds the 30-day window
(its ratio on /metrics), the fleet view and one VIM's view are timed over HTTP. The old
computation (every event of the period, as before the roll-ups) is timed in-process on
one project of 1,000 VIMs of the same database. `--quick`: 300 VIMs.
"""

from __future__ import annotations

import math
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.report import Figure, save
from bench.server import BenchServer
from tests.polling import wait_for
from vimwatch.context import admin_context
from vimwatch.registry.database import Registry, make_db_engine, migrate, utcnow
from vimwatch.registry.history import event_figures, vims_in_period
from vimwatch.registry.rollups import roll_up
from vimwatch.services.availability import vim_report

FLEET_TARGET = 0.200
ONE_VIM_TARGET = 0.020
REFRESH_INTERVAL = 60.0
CHANGES_PER_MONTH = 20
_CHUNK_VIMS = 500


def _write_history(url_path: Path, vims: int, now: datetime, seed: int = 18) -> list[str]:
    """`vims` VIMs created a year ago, each going down for 1 to 60 minutes about ten times
    a month (twenty changes), at random. Written with sqlite3 directly and the events'
    indexes rebuilt afterwards: through the ORM with live indexes, 24 million events took
    this machine over an hour to write, and the load is not what is measured."""
    rng = random.Random(seed)
    year = timedelta(days=365)
    born = now - year
    ids = [str(uuid.uuid4()) for _ in range(vims)]
    changes = CHANGES_PER_MONTH * 12
    db = sqlite3.connect(url_path)
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'"
        " AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")
    for start in range(0, vims, _CHUNK_VIMS):
        rows, events = [], []
        for n, vim_id in enumerate(ids[start : start + _CHUNK_VIMS], start):
            project = f"bench-{n // 1000}"
            rows.append(_vim_row(vim_id, project, born))
            events.append(_event(vim_id, project, "CREATE", "PENDING", born))
            events.append(
                _event(vim_id, project, "MONITOR", "REACHABLE", born + timedelta(seconds=2))
            )
            seconds = year.total_seconds() - 3600
            for at in sorted(rng.uniform(60, seconds) for _ in range(changes // 2)):
                down = born + timedelta(seconds=at)
                up = down + timedelta(seconds=rng.uniform(60, 3600))
                events.append(_event(vim_id, project, "MONITOR", "UNREACHABLE", down))
                events.append(_event(vim_id, project, "MONITOR", "REACHABLE", up))
        db.executemany(_INSERT_VIM, rows)
        db.executemany(_INSERT_EVENT, events)
        db.commit()
    for _, sql in indexes:
        db.execute(sql)
    db.commit()
    db.close()
    return ids


_INSERT_VIM = (
    "INSERT INTO vims (id, type, tenant_id, name, description, status, auth_url, vim_project,"
    " auth_cred, sealed_secrets, extra, is_default, tombstone, created_at)"
    " VALUES (?, 'openstack', ?, ?, '', 'REACHABLE', 'http://127.0.0.1/identity',"
    " '{}', '{}', '', '{}', 0, '', ?)"
)
_INSERT_EVENT = (
    "INSERT INTO events (resource_id, resource_type, resource_state, event_type, timestamp,"
    " event_details, tenant_id) VALUES (?, 'vim', ?, ?, ?, '', ?)"
)


def _vim_row(vim_id: str, project: str, born: datetime) -> tuple:
    return (vim_id, project, vim_id, str(born))


def _event(vim_id: str, project: str, kind: str, state: str, at: datetime) -> tuple:
    return (vim_id, state, kind, str(at), project)


def _timed(call: Callable[[], object], repeats: int) -> list[float]:
    call()  # warm the page cache
    took = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        took.append(time.perf_counter() - began)
    return took


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _figure(name: str, took: list[float], target: float, baseline: str = "") -> Figure:
    p50, p99 = statistics.median(took), _quantile(took, 0.99)
    return Figure(
        name,
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms ({p99 / target:.2f}x the target)",
        f"< {target * 1000:.0f} ms",
        p99 < target,
        baseline,
        details={"seconds": took},
    )


def _summary_ready(client: httpx.Client) -> bool:
    text = client.get("/metrics").text
    return 'vimwatch_availability_ratio{window="30d"}' in text


def _refresh_seconds(client: httpx.Client) -> float | None:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name == "vimwatch_availability_refresh_seconds":
            return float(family.samples[0].value)
    return None


def _get(client: httpx.Client, path: str, params: dict[str, Any]) -> Callable[[], object]:
    def call() -> object:
        response = client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    return call


def _old_fleet_view(registry: Registry, since: datetime, until: datetime) -> None:
    """The fleet view as computed before the roll-ups: every event of the period, of one
    project (1,000 VIMs, or all of a smaller fleet), then sorted worst first."""
    with registry.reading() as session:
        vims = vims_in_period(session, admin_context(), since, until, project="bench-0")
        rows = event_figures(session, vims, since, until)
    rows.sort(key=lambda row: (row[1].ratio is None, row[1].ratio or 0.0, row[0].id))


def run(quick: bool, results: Path, vims: int | None = None) -> list[Figure]:
    vims = vims or (300 if quick else 100_000)
    repeats = 20 if quick else 200
    with tempfile.TemporaryDirectory(prefix="vimwatch-bench-availability-") as scratch:
        state = Path(scratch) / "state"
        state.mkdir()
        path = state / "vimwatch.db"
        db_engine = make_db_engine(f"sqlite:///{path}")
        migrate(db_engine)
        registry = Registry(db_engine)
        now = utcnow()
        began = time.perf_counter()
        ids = _write_history(path, vims, now)
        written = time.perf_counter() - began
        began = time.perf_counter()
        rolled = roll_up(registry, now, most=32)
        rolling = time.perf_counter() - began
        month = (now - timedelta(days=30), now)
        old = _timed(lambda: _old_fleet_view(registry, *month), 2)
        one_id = ids[len(ids) // 2]
        admin = admin_context()
        in_process = _timed(lambda: vim_report(registry, admin, one_id, *month), repeats)
        db_engine.dispose()
        with (
            BenchServer(state, monitor_interval="600") as server,
            httpx.Client(base_url=server.url, timeout=600) as client,
        ):
            began = time.perf_counter()
            wait_for(lambda: _summary_ready(client), timeout=3600, interval=15.0)
            summarised = time.perf_counter() - began
            fleet = _timed(_get(client, "/v1.0/availability", {"window": "30d"}), repeats)
            one = _timed(
                _get(client, f"/v1.0/vims/{one_id}/availability", {"window": "30d"}), repeats
            )
            shown = _timed(_get(client, f"/v1.0/vims/{one_id}", {}), repeats)
            refresh = _refresh_seconds(client)
    old_median = statistics.median(old)
    figures = [
        _figure(
            f"fleet view, 30 days, worst 100 of {vims:,} VIMs a year each",
            fleet,
            FLEET_TARGET,
            f"the old event scan of {min(vims, 1000):,} VIMs: {old_median * 1000:.0f} ms"
            f" ({old_median / statistics.median(fleet):.0f}x the new p50)",
        ),
        _figure(
            "one VIM, 30 days",
            one,
            ONE_VIM_TARGET,
            f"GET /v1.0/vims/{{id}} (no report): p50 {statistics.median(shown) * 1000:.1f} ms;"
            f" the report in-process: p50 {statistics.median(in_process) * 1000:.1f} ms",
        ),
        Figure(
            "fleet summary refresh, 4 windows (background job)",
            "not reported" if refresh is None else f"{refresh:.2f} s",
            f"< {REFRESH_INTERVAL:.0f} s (its interval)",
            None if refresh is None else refresh < REFRESH_INTERVAL,
        ),
    ]
    extra = {
        "vims": vims,
        "events": vims * (CHANGES_PER_MONTH * 12 + 2),
        "write_seconds": written,
        "rolled_days": rolled,
        "roll_up_seconds": rolling,
        "first_summary_seconds": summarised,
        "last_refresh_seconds": refresh,
        "old_fleet_view_1000_seconds": old,
    }
    save("availability", figures, extra, results)
    return figures
