"""Counts by status come from counters the database keeps, and always equal a GROUP BY over
the live VIMs, whichever way the VIMs were written, on every database."""

from __future__ import annotations

from collections import Counter

from alembic import command
from sqlalchemy import delete, func, insert, inspect, select, update

from tests.rows import insert_vim, vim_row
from vimwatch.conductor.status_changes import apply_status_changes
from vimwatch.context import RequestContext, admin_context
from vimwatch.registry.database import Registry, _alembic_config, make_db_engine, migrate, utcnow
from vimwatch.registry.models import Vim, VimStatusCount
from vimwatch.registry.vims import count_by_status


def add_fleet(registry: Registry) -> None:
    """Nine VIMs in two projects: one multi-row INSERT (as imports and the fleet bench
    write) and single ORM inserts (as registration does)."""
    rows = [vim_row(f"a{n}", "alpha", "REACHABLE" if n % 2 else "PENDING") for n in range(6)]
    with registry.transaction() as session:
        session.execute(insert(Vim), rows)
    with registry.transaction() as session:
        for n in range(3):
            insert_vim(session, f"b{n}").tenant_id = "beta"


def grouped(registry: Registry) -> Counter:
    """The truth: live VIMs by (project, status), counted the slow way."""
    with registry.reading() as session:
        rows = session.execute(
            select(Vim.tenant_id, Vim.status, func.count())
            .where(Vim.deleted_at.is_(None))
            .group_by(Vim.tenant_id, Vim.status)
        )
        return Counter({(tenant, status): count for tenant, status, count in rows})


def counters(registry: Registry) -> Counter:
    with registry.reading() as session:
        rows = session.execute(
            select(VimStatusCount.tenant_id, VimStatusCount.status, VimStatusCount.count)
        )
        return Counter({(tenant, status): count for tenant, status, count in rows if count})


def assert_counts_match(registry: Registry) -> None:
    truth = grouped(registry)
    assert counters(registry) == truth
    with registry.reading() as session:
        everyone = count_by_status(session, admin_context())
        alpha = count_by_status(session, RequestContext(project_id="alpha"))
    admin_view: Counter = Counter()
    for (_, status), count in truth.items():
        admin_view[status] += count
    assert everyone == dict(admin_view)
    assert alpha == {status: n for (tenant, status), n in truth.items() if tenant == "alpha"}


def test_inserted_vims_are_counted_by_project_and_status(registry: Registry) -> None:
    add_fleet(registry)
    assert grouped(registry) == {
        ("alpha", "PENDING"): 3,
        ("alpha", "REACHABLE"): 3,
        ("beta", "PENDING"): 3,
    }
    assert_counts_match(registry)


def test_a_member_sees_only_its_project_and_no_status_without_vims(registry: Registry) -> None:
    add_fleet(registry)
    with registry.reading() as session:
        assert count_by_status(session, RequestContext(project_id="beta")) == {"PENDING": 3}
        assert count_by_status(session, RequestContext(project_id="gamma")) == {}
        assert count_by_status(session, admin_context(), project="beta") == {"PENDING": 3}
        assert count_by_status(session, RequestContext(project_id="alpha"), "beta") == {}
    apply_status_changes(registry, [(f"b{n}", "REACHABLE", True) for n in range(3)])
    with registry.reading() as session:
        assert count_by_status(session, RequestContext(project_id="beta")) == {"REACHABLE": 3}
        assert count_by_status(session, admin_context()) == {"PENDING": 3, "REACHABLE": 6}


def test_the_conductors_batched_status_changes_move_the_counts(registry: Registry) -> None:
    add_fleet(registry)
    changes = [("a0", "UNREACHABLE", False), ("a1", "UNREACHABLE", False)]
    changes += [("a3", "REACHABLE", True), ("b0", "REACHABLE", False), ("b1", "UNREACHABLE", True)]
    changes += [("a2", "REACHABLE", False), ("a2", "UNREACHABLE", False)]
    apply_status_changes(registry, changes)
    assert grouped(registry)[("alpha", "UNREACHABLE")] == 3
    assert_counts_match(registry)


def test_soft_deleted_vims_leave_the_counts_and_return_when_restored(registry: Registry) -> None:
    add_fleet(registry)
    with registry.transaction() as session:
        session.execute(
            update(Vim)
            .where(Vim.id.in_(["a0", "a1", "b2"]))
            .values(deleted_at=utcnow(), tombstone=Vim.id)
        )
    assert grouped(registry)[("beta", "PENDING")] == 2
    assert_counts_match(registry)
    # A deleted VIM changed meanwhile is not counted; restored, it counts as it is now.
    with registry.transaction() as session:
        session.execute(update(Vim).where(Vim.id == "a0").values(status="UNREACHABLE"))
    assert_counts_match(registry)
    with registry.transaction() as session:
        session.execute(update(Vim).where(Vim.id == "a0").values(deleted_at=None, tombstone=""))
    assert grouped(registry)[("alpha", "UNREACHABLE")] == 1
    assert_counts_match(registry)


def test_moving_a_vim_to_another_project_moves_its_count(registry: Registry) -> None:
    add_fleet(registry)
    with registry.transaction() as session:
        session.execute(update(Vim).where(Vim.id == "a1").values(tenant_id="beta"))
        session.execute(update(Vim).where(Vim.id == "a2").values(tenant_id="beta", status="DOWN"))
    assert grouped(registry)[("beta", "REACHABLE")] == 1
    assert_counts_match(registry)


def test_deleted_rows_and_unrelated_updates(registry: Registry) -> None:
    add_fleet(registry)
    with registry.transaction() as session:
        session.execute(update(Vim).values(description="touched"))
        session.execute(update(Vim).where(Vim.id == "a3").values(deleted_at=utcnow()))
        session.execute(delete(Vim).where(Vim.id.in_(["a3", "a5", "b0"])))
    assert grouped(registry)[("alpha", "REACHABLE")] == 1
    assert_counts_match(registry)


def test_a_rolled_back_change_leaves_the_counts_as_they_were(registry: Registry) -> None:
    add_fleet(registry)
    try:
        with registry.transaction() as session:
            session.execute(update(Vim).values(status="UNREACHABLE"))
            raise RuntimeError("abandon the transaction")
    except RuntimeError:
        pass
    assert grouped(registry)[("alpha", "REACHABLE")] == 3
    assert_counts_match(registry)


def test_upgrading_a_populated_database_counts_its_vims(database_url: str) -> None:
    db_engine = make_db_engine(database_url)
    try:
        config = _alembic_config()
        with db_engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0005")
        registry = Registry(db_engine)
        add_fleet(registry)
        with registry.transaction() as session:
            session.execute(update(Vim).where(Vim.id == "a0").values(deleted_at=utcnow()))
        migrate(db_engine)
        assert sum(counters(registry).values()) == 8
        assert_counts_match(registry)
    finally:
        db_engine.dispose()


def test_downgrading_removes_the_counters_and_their_triggers(registry: Registry) -> None:
    config = _alembic_config()
    with registry.db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert "vim_status_counts" not in inspect(registry.db_engine).get_table_names()
    add_fleet(registry)
    with registry.transaction() as session:
        session.execute(update(Vim).where(Vim.id == "a0").values(status="UNREACHABLE"))
    migrate(registry.db_engine)
    assert_counts_match(registry)
