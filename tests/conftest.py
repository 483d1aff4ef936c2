"""Fixtures shared across the suite: a live server and a fake Keystone to register against."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import database_url, scratch_database  # noqa: F401 - a fixture
from tests.fakes.keystone import FakeKeystone
from tests.service import Server
from vimwatch.registry.database import Registry, make_db_engine, migrate

PASSWORD = "s3cret!pw-do-not-leak"


@pytest.fixture
def keystone() -> Iterator[FakeKeystone]:
    with FakeKeystone(users={"nfv_user": PASSWORD}, regions=["RegionOne", "RegionTwo"]) as ks:
        yield ks


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The embedded server, on SQLite unless VIMWATCH_TEST_DATABASE names another database."""
    kind = os.environ.get("VIMWATCH_TEST_DATABASE", "sqlite")
    with scratch_database(kind, tmp_path) as url:
        env = {} if kind == "sqlite" else {"VIMWATCH_DATABASE_URL": url}
        service = Server(tmp_path / "state", env=env).start()
        try:
            yield service
        finally:
            service.stop()


@pytest.fixture
def quiet_server(tmp_path: Path) -> Iterator[Server]:
    """The embedded server on SQLite, registering VIMs without logging in to them."""
    service = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def registry(database_url: str) -> Iterator[Registry]:  # noqa: F811
    """A migrated registry on each supported database in turn."""
    db_engine = make_db_engine(database_url)
    migrate(db_engine)
    try:
        yield Registry(db_engine)
    finally:
        db_engine.dispose()
