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
        admin = _admin(kind)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not running"
        pytest.skip(f"{kind} is not reachable on 127.0.0.1: {exc}")
    with admin:
        admin.cursor().execute(f"CREATE DATABASE {name}")
        try:
            yield (POSTGRES if kind == "postgresql" else MARIADB).format(name=name)
        finally:
            if kind == "postgresql":
                admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                admin.cursor().execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with scratch_database(request.param, tmp_path) as url:
        yield url
