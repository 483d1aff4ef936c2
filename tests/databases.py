"""Throwaway databases on the three servers vimwatch supports, for tests that must pass on each.

Each test gets a database of its own, created empty and dropped afterwards, so reruns on
the same machine start clean. A server that is not running skips its tests with the reason.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306/{name}"
KINDS = ("sqlite", "postgresql", "mariadb")


def _admin(kind: str):  # noqa: ANN202 - a DB-API connection of either driver
    if kind == "postgresql":
        import psycopg

        return psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
    import pymysql

    return pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)


@contextmanager
def scratch_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yield a SQLAlchemy URL to a new empty database of `kind`; drop it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"vimwatch_test_{secrets.token_hex(4)}"
    try:
        _execute(kind, f"CREATE DATABASE {name}")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not running"
        pytest.skip(f"{kind} is not reachable on 127.0.0.1: {exc}")
    try:
        yield (POSTGRES if kind == "postgresql" else MARIADB).format(name=name)
    finally:
        # A fresh connection: a test may have restarted the server under the old one.
        force = " WITH (FORCE)" if kind == "postgresql" else ""
        _execute(kind, f"DROP DATABASE IF EXISTS {name}{force}")


def _execute(kind: str, statement: str) -> None:
    with _admin(kind) as admin:
        admin.cursor().execute(statement)


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with scratch_database(request.param, tmp_path) as url:
        yield url
