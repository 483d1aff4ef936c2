"""The dashboard's queries at 100,000 VIMs: every request the page makes stays interactive."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import insert

from tests.rows import vim_row
from vimwatch.context import admin_context
from vimwatch.dashboard import queries
from vimwatch.registry.database import Registry, make_db_engine, migrate, utcnow
from vimwatch.registry.models import Event, Vim

FLEET = 100_000
STATUSES = ("REACHABLE", "REACHABLE", "REACHABLE", "UNREACHABLE", "PENDING")


@pytest.fixture(scope="module")
def big_fleet(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    path: Path = tmp_path_factory.mktemp("fleet") / "fleet.db"
    db_engine = make_db_engine(f"sqlite:///{path}")
    migrate(db_engine)
    now = utcnow()
    vims, events = [], []
    for n in range(FLEET):
        vim_id = str(uuid.UUID(int=n))
        status = STATUSES[n % len(STATUSES)]
        vims.append(
            {
                **vim_row(vim_id, f"project-{n % 50}", status),
                "type": "openstack" if n % 2 else "kubernetes",
                "name": f"vim-{n:06d}",
                "auth_url": f"http://169.254.1.{n % 250 + 2}/identity",
                "created_at": now,
            }
        )
        events.append(
            {
                "resource_id": vim_id,
                "resource_type": "vim",
                "resource_state": status,
                "event_type": "MONITOR",
                "timestamp": now,
                "event_details": "",
                "tenant_id": f"project-{n % 50}",
            }
        )
    with db_engine.begin() as connection:
        connection.execute(insert(Vim), vims)
        connection.execute(insert(Event), events)
    yield Registry(db_engine)
    db_engine.dispose()


def timed(operation, *args):  # noqa: ANN001, ANN002, ANN201
    started = time.perf_counter()
    result = operation(*args)
    return result, time.perf_counter() - started


def page_of(registry: Registry, where: queries.VimFilter, page: int) -> tuple[int, list, dict]:
    """Everything one dashboard page load asks the database."""
    context = admin_context()
    with registry.reading() as session:
        counts = queries.status_counts(session, context, where)
        total, vims = queries.vim_page(session, context, where, (page - 1) * 50, 50)
        ids = [vim.id for vim in vims]
        queries.last_changes(session, ids)
        history = queries.status_history(session, ids)
    return total, vims, {"counts": counts, "history": history}


@pytest.mark.parametrize(
    ("where", "page", "expected_total"),
    [
        (queries.VimFilter(), 1, FLEET),
        (queries.VimFilter(), FLEET // 50, FLEET),
        (queries.VimFilter(status="UNREACHABLE"), 200, FLEET // 5),
        (queries.VimFilter(name="99"), 1, None),
        (queries.VimFilter(project="project-7", status="REACHABLE"), 3, None),
    ],
    ids=["first-page", "last-page", "status", "name", "project-and-status"],
)
def test_a_dashboard_page_of_a_hundred_thousand_vims_loads_in_under_a_second(
    big_fleet: Registry, where: queries.VimFilter, page: int, expected_total: int | None
) -> None:
    (total, vims, extra), seconds = timed(page_of, big_fleet, where, page)
    assert seconds < 1.0, f"{seconds:.2f}s"
    assert len(vims) == 50
    if expected_total is not None:
        assert total == expected_total
    assert sum(extra["counts"].values()) >= total
    assert all(len(extra["history"][vim.id]) == 1 for vim in vims)


def test_counts_by_status_cover_the_whole_fleet(big_fleet: Registry) -> None:
    with big_fleet.reading() as session:
        counts = queries.status_counts(session, admin_context(), queries.VimFilter())
    assert counts == {"REACHABLE": 60_000, "UNREACHABLE": 20_000, "PENDING": 20_000}
