"""A SQLite file deleted or replaced under a running server: writes are refused, not lost."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests.rows import insert_vim
from tests.service import Server, vim_body
from vimwatch.registry.database import Registry, make_db_engine, migrate


@pytest.fixture
def sqlite_registry(tmp_path: Path) -> Iterator[Registry]:
    db_engine = make_db_engine(f"sqlite:///{tmp_path / 'vimwatch.db'}")
    migrate(db_engine)
    try:
        yield Registry(db_engine)
    finally:
        db_engine.dispose()


def test_a_replaced_database_file_refuses_writes_and_says_so(
    sqlite_registry: Registry, tmp_path: Path
) -> None:
    with sqlite_registry.transaction() as session:
        insert_vim(session, "before")
    assert sqlite_registry.problem() is None
    path = tmp_path / "vimwatch.db"
    shutil.copy(path, tmp_path / "copy.db")
    (tmp_path / "copy.db").replace(path)

    assert "was replaced while vimwatch ran" in sqlite_registry.problem()
    with (
        pytest.raises(OperationalError, match="was replaced while vimwatch ran"),
        sqlite_registry.transaction() as session,
    ):
        insert_vim(session, "after")


def test_a_connection_never_creates_an_empty_file_where_the_database_was(
    sqlite_registry: Registry, tmp_path: Path
) -> None:
    path = tmp_path / "vimwatch.db"
    path.rename(tmp_path / "elsewhere.db")
    assert "was deleted while vimwatch ran" in sqlite_registry.problem()
    sqlite_registry.db_engine.dispose()
    with (
        pytest.raises(OperationalError, match="unable to open database file"),
        sqlite_registry.db_engine.connect() as connection,
    ):
        connection.execute(text("SELECT 1"))
    assert not path.exists()


def test_a_database_file_deleted_under_a_running_server_loses_nothing_it_acknowledged(
    tmp_path: Path,
) -> None:
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    database = server.state_dir / "vimwatch.db"
    # The operator's "rm": the name goes, while the test keeps the file to restore it later.
    aside = tmp_path / "aside.db"
    acknowledged: list[str] = []
    refusals: list[httpx.Response] = []
    stop = threading.Event()

    def keep_registering() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            n = 0
            while not stop.is_set():
                response = client.post("/v1.0/vims", json=vim_body(f"vim-{n}"))
                if response.status_code == 201:
                    acknowledged.append(f"vim-{n}")
                else:
                    refusals.append(response)
                n += 1

    writer = threading.Thread(target=keep_registering)
    try:
        writer.start()
        server.wait_for(lambda: len(acknowledged) >= 5, timeout=60)
        database.rename(aside)
        server.wait_for(lambda: len(refusals) >= 5, timeout=60)
        stop.set()
        writer.join()

        for response in refusals:
            assert response.status_code == 503, response.text
            assert (
                "vimwatch.db was deleted while vimwatch ran"
                in (response.json()["TackerError"]["message"])
            )
        health = server.api("GET", "/healthz")
        assert health.status_code == 503
        assert health.json()["database"] is False
        assert "was deleted while vimwatch ran" in health.json()["database_error"]
        assert "was deleted while vimwatch ran" in server.log()
    finally:
        stop.set()
        writer.join()
        server.stop()

    aside.rename(database)
    server.start()
    try:
        names = {vim["name"] for vim in server.api("GET", "/v1.0/vims").json()["vims"]}
        assert set(acknowledged) <= names
    finally:
        server.stop()
