"""Fixtures shared across the suite: a live server and a fake Keystone to register against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.keystone import FakeKeystone
from tests.service import Server

PASSWORD = "s3cret!pw-do-not-leak"


@pytest.fixture
def keystone() -> Iterator[FakeKeystone]:
    with FakeKeystone(users={"nfv_user": PASSWORD}, regions=["RegionOne", "RegionTwo"]) as ks:
        yield ks


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    service = Server(tmp_path / "state").start()
    try:
        yield service
    finally:
        service.stop()
