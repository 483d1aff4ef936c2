"""The schema comes from migrations, and migrating is safe to repeat, on every database."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import inspect

from vimwatch.registry.database import Registry, make_db_engine, migrate, schema_is_current


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
