"""Connecting to the registry and bringing its schema up to date.

The schema is only ever created by Alembic migrations, so that a database made by one
version can be upgraded by the next the same way on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> datetime:
    """Naive UTC, the way the Tacker and Mistral APIs print their timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


def _tune_sqlite(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API callback
    # WAL lets the API read while the conductor writes; busy_timeout makes writers queue
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def schema_is_current(engine: Engine) -> bool:
    """Services check this at start-up rather than migrate behind the operator's back."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision; a no-op when it is already there."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        os.chmod(engine.url.database, 0o600)


class Registry:
    """The database handle every service function takes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time, and a writer that finds the database locked
        # sleeps in steps of up to 100 ms before it retries: under concurrent requests
        # most of the time went to those sleeps. Queueing this process's writers on a
        # lock hands the database from one to the next at once.
        self._writer = threading.RLock() if engine.url.get_backend_name() == "sqlite" else None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception."""
        if self._writer is None:
            with self._sessions.begin() as session:
                yield session
            return
        with self._writer, self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session
