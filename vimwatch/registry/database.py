"""Connecting to the registry and bringing its schema up to date.

The schema is only ever created by Alembic migrations, so that a database made by one
version can be upgraded by the next the same way on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from vimwatch.registry.commit_gate import before_commit
from vimwatch.registry.sqlite_file import opened_file

MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> datetime:
    """Naive UTC, the way the Tacker and Mistral APIs print their timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


def _tune_sqlite(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # WAL lets the API read while the conductor writes; busy_timeout makes writers queue
    # instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # The sqlite3 module begins a transaction only before a write, so the reads of a
    # check-then-write (is this VIM still live? then start its execution) ran outside it,
    # and another process (the engine's, the CLI's) could commit in between. Transactions
    # begin where SQLAlchemy begins them instead (_begin_sqlite).
    dbapi_connection.isolation_level = None


#: Execution option naming the statement that begins a transaction on SQLite.
_SQLITE_BEGIN = "vimwatch_sqlite_begin"


def _begin_sqlite(connection: Connection) -> None:
    """Writers take the database's write lock at BEGIN IMMEDIATE, waiting their turn through
    busy_timeout: a transaction that read first and only then asked for the lock would
    fail at once when another process wrote meanwhile. Readers take a snapshot."""
    connection.exec_driver_sql(connection.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))


def _sqlite_file_creator(path: Path) -> Callable[[], sqlite3.Connection]:
    """Connect read-write only: once the file exists, a connection must never create an
    empty one where it was deleted (beside its old WAL, which SQLite would then apply)."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    uri = f"{path.as_uri()}?mode=rw"
    return lambda: sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)


def make_db_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            db_engine = create_engine(url, creator=_sqlite_file_creator(Path(parsed.database)))
        else:
            db_engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(db_engine, "connect", _tune_sqlite)
        event.listen(db_engine, "begin", _begin_sqlite)
        return db_engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def schema_is_current(db_engine: Engine) -> bool:
    """Services check this at start-up rather than migrate behind the operator's back."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with db_engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def migrate(db_engine: Engine) -> None:
    """Upgrade the schema to the newest revision; a no-op when it is already there."""
    config = _alembic_config()
    with db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    if db_engine.url.get_backend_name() == "sqlite" and db_engine.url.database:
        os.chmod(db_engine.url.database, 0o600)


class Registry:
    """The database handle every service function takes."""

    def __init__(self, db_engine: Engine) -> None:
        self.db_engine = db_engine
        self._sessions = sessionmaker(db_engine, expire_on_commit=False)
        self._writing = sessionmaker(
            db_engine,
            expire_on_commit=False,
            execution_options={_SQLITE_BEGIN: "BEGIN IMMEDIATE"},
        )
        # SQLite has one writer at a time, and a writer that finds the database locked
        # sleeps in steps of up to 100 ms before it retries: under concurrent requests
        # most of the time went to those sleeps. Queueing this process's writers on a
        # lock hands the database from one to the next at once.
        self._writer = threading.RLock() if db_engine.url.get_backend_name() == "sqlite" else None
        self._file = opened_file(db_engine.url.database) if self._writer else None

    def problem(self) -> str | None:
        """Why the database cannot take writes although it may still answer (for /healthz)."""
        return self._file.problem() if self._file else None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any exception, and on a
        request the stopping server gave up on (vimwatch.registry.commit_gate)."""
        if self._file:
            self._file.check()
        writer = self._writer if self._writer is not None else nullcontext()
        with writer, self._writing.begin() as session:
            yield session
            before_commit()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session
