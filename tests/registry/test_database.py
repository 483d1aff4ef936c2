"""The schema comes from migrations, and migrating is safe to repeat."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import inspect, text

from vimwatch.registry.database import make_engine, migrate


def test_migrations_create_every_table_and_can_run_twice(tmp_path: Path) -> None:
    path = tmp_path / "state" / "vimwatch.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"vims", "events", "workflows", "executions", "tasks", "alembic_version"} <= tables
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
