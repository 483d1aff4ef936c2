"""The stored check results behind a VIM's `checks`, on every supported database."""

from __future__ import annotations

from datetime import timedelta

from tests.rows import insert_vim
from vimwatch.registry.checks import CheckRecord, checks_of, delete_checks, write_checks
from vimwatch.registry.database import Registry, utcnow


def record(vim_id: str, name: str, state: str, reason: str = "") -> CheckRecord:
    now = utcnow()
    return CheckRecord(vim_id, name, state, reason, 0.012, now - timedelta(seconds=5), now)


def test_the_latest_record_of_each_check_is_what_the_view_shows(registry: Registry) -> None:
    with registry.transaction() as session:
        insert_vim(session, "vim-a")
    with registry.transaction() as session:
        write_checks(session, [record("vim-a", "icmp", "passing")], utcnow())
        write_checks(session, [record("vim-a", "api", "passing")], utcnow())
    with registry.transaction() as session:
        failed = record("vim-a", "api", "failing", "authentication failed: (HTTP 401)")
        write_checks(session, [failed], utcnow())
    with registry.reading() as session:
        views = checks_of(session, ["vim-a", "vim-none"])
    assert set(views) == {"vim-a"}
    assert views["vim-a"]["icmp"]["state"] == "passing"
    api = views["vim-a"]["api"]
    assert api["state"] == "failing" and api["reason"] == "authentication failed: (HTTP 401)"
    assert api["latency"] == 0.012 and api["last_success"] and api["last_failure"]


def test_records_of_a_deleted_vim_are_neither_written_nor_kept(registry: Registry) -> None:
    with registry.transaction() as session:
        insert_vim(session, "vim-b")
        insert_vim(session, "vim-gone").deleted_at = utcnow()
    with registry.transaction() as session:
        write_checks(
            session,
            [record("vim-b", "icmp", "passing"), record("vim-gone", "icmp", "passing")],
            utcnow(),
        )
    with registry.reading() as session:
        assert set(checks_of(session, ["vim-b", "vim-gone"])) == {"vim-b"}
    with registry.transaction() as session:
        delete_checks(session, "vim-b")
    with registry.reading() as session:
        assert checks_of(session, ["vim-b"]) == {}
