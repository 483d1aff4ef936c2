"""The schema comes from migrations, and migrating is safe to repeat, on every database."""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from unittest.mock import patch

from sqlalchemy import insert, inspect, update

from tests.rows import vim_row
from vimwatch.registry import workflows as records
from vimwatch.registry.database import (
    Registry,
    make_db_engine,
    migrate,
    schema_is_current,
    utcnow,
)
from vimwatch.registry.models import Vim


def test_migrations_create_every_table_and_can_run_twice(registry: Registry) -> None:
    migrate(registry.db_engine)
    tables = set(inspect(registry.db_engine).get_table_names())
    assert {"vims", "events", "workflows", "executions", "tasks", "engines"} <= tables
    assert schema_is_current(registry.db_engine)


def test_an_unmigrated_database_is_not_current(tmp_path: Path) -> None:
    db_engine = make_db_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert not schema_is_current(db_engine)


def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "vimwatch.db"
    migrate(make_db_engine(f"sqlite:///{path}"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_write_that_checks_first_sees_no_other_process_commit_in_between(tmp_path: Path) -> None:
    """The engine process repairs a VIM's monitor while the api process deletes the VIM: on
    SQLite too, the repair's check that the VIM is live must hold until it commits, or it
    leaves a running execution behind for a deleted VIM."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engines = [make_db_engine(url), make_db_engine(url)]
    migrate(engines[0])
    repairer, deleter = (Registry(e) for e in engines)
    with deleter.transaction() as session:
        session.execute(insert(Vim), [vim_row("v1")])
    checked, go_on = threading.Event(), threading.Event()
    real_check = records.running_execution_ids

    def check_then_pause(session, vim_id):  # noqa: ANN001, ANN202
        found = real_check(session, vim_id)
        checked.set()
        go_on.wait(30)
        return found

    def repair() -> None:
        with repairer.transaction() as session:
            records.start_unless_running(
                session, vim_id="v1", project_id="p", definition="d", task_input={}
            )

    def delete() -> None:
        with deleter.transaction() as session:
            session.execute(update(Vim).where(Vim.id == "v1").values(deleted_at=utcnow()))
            records.delete_records(session, "v1")

    try:
        with patch.object(records, "running_execution_ids", check_then_pause):
            repairing = threading.Thread(target=repair)
            repairing.start()
            assert checked.wait(30)
            deleting = threading.Thread(target=delete)
            deleting.start()
            # The delete must wait for the repair; if it gets through now, the repair
            # writes after it and leaves its execution behind.
            deleting.join(2)
            go_on.set()
            repairing.join(60)
        deleting.join(60)
        with repairer.reading() as session:
            assert records.vims_running(session) == set()
    finally:
        go_on.set()
        for db_engine in engines:
            db_engine.dispose()
