"""The setting of the detection and stability runs: a `vimwatch serve` holding a loopback
fleet plus VIMs on lab addresses behind one veth, and what its database says of them.

Status changes are read where the issue states them, in the database: the conductor's
MONITOR events, whose timestamps it writes (UTC) in the transaction of the change.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.fleet import insert_fleet
from bench.server import BenchServer
from bench.targets import loopback_addresses
from tests.lab import Lab, LabHost, unavailable
from vimwatch.registry.database import Registry, make_db_engine, migrate


@dataclass
class Outage:
    server: BenchServer
    host: LabHost
    lab_ids: list[str]
    database: Path

    def changes(self, state: str, since: datetime) -> dict[str, datetime]:
        """VIM id -> time of its first MONITOR event to `state` at or after `since`."""
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as db:
            rows = db.execute(
                "SELECT resource_id, MIN(timestamp) FROM events WHERE event_type = 'MONITOR' "
                "AND resource_state = ? AND timestamp >= ? GROUP BY resource_id",
                (state, since.isoformat(sep=" ")),
            ).fetchall()
        return {vim_id: datetime.fromisoformat(stamp) for vim_id, stamp in rows}

    def wait_for(
        self, state: str, since: datetime, vim_ids: list[str], timeout: float
    ) -> dict[str, datetime]:
        wanted = set(vim_ids)
        deadline = time.monotonic() + timeout
        while True:
            seen = {k: v for k, v in self.changes(state, since).items() if k in wanted}
            if len(seen) == len(wanted) or time.monotonic() > deadline:
                return seen
            time.sleep(0.25)


@contextlib.contextmanager
def outage_setting(
    background: int, lab_vims: int, interval: float, background_interval: float = 10.0
) -> Iterator[Outage]:
    """Everything monitored and REACHABLE; the lab VIMs' link is up."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="vimwatch-bench-") as scratch:
        host = lab.add_subnet(lab_vims)
        state = Path(scratch) / "state"
        state.mkdir()
        database = state / "vimwatch.db"
        db_engine = make_db_engine(f"sqlite:///{database}")
        migrate(db_engine)
        registry = Registry(db_engine)
        insert_fleet(registry, loopback_addresses(background), interval=background_interval)
        lab_ids = insert_fleet(registry, host.addresses, interval=interval, name="lab")
        db_engine.dispose()
        with BenchServer(state) as server:
            server.wait_for_monitors(background + lab_vims, timeout=900)
            time.sleep(3 * interval)
            yield Outage(server, host, lab_ids, database)
