"""The schema comes from migrations, and migrating is safe to repeat, on every database."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import inspect

from vimwatch.registry.database import Registry, make_engine, migrate, schema_is_current


def test_migrations_create_every_table_and_can_run_twice(registry: Registry) -> None:
    migrate(registry.engine)
    tables = set(inspect(registry.engine).get_table_names())
    assert {"vims", "events", "workflows", "executions", "tasks", "engines"} <= tables
    assert schema_is_current(registry.engine)


def test_an_unmigrated_database_is_not_current(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert not schema_is_current(engine)


def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "vimwatch.db"
    migrate(make_engine(f"sqlite:///{path}"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
