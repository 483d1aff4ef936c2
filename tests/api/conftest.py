"""Callers of the API under token auth: two projects and an admin on one server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service import Server

METRICS_TOKEN = "scrape-token-for-prometheus"


class Caller:
    def __init__(self, server: Server, token: str | None) -> None:
        self.server = server
        self.headers = {"X-Auth-Token": token} if token else {}

    def __call__(self, method: str, path: str, **kwargs) -> httpx.Response:  # noqa: ANN003
        return self.server.api(method, path, headers=self.headers, **kwargs)


def create_token(server: Server, project: str, *extra: str) -> str:
    output = server.cli("token", "create", "--project", project, *extra).stdout
    return output.split()[-1]


@pytest.fixture
def tenant_settings() -> dict[str, str]:
    """More settings of the `tenants` server; a test module overrides this fixture."""
    return {}


@pytest.fixture
def tenants(
    tmp_path: Path, tenant_settings: dict[str, str]
) -> Iterator[tuple[Server, dict[str, Caller], list[str]]]:
    server = Server(
        tmp_path / "state",
        env={
            "VIMWATCH_AUTH": "token",
            "VIMWATCH_VALIDATE_VIMS": "false",
            "VIMWATCH_METRICS_TOKEN": METRICS_TOKEN,
            **tenant_settings,
        },
    )
    tokens = {
        "a": create_token(server, "project-a"),
        "admin": create_token(server, "ops", "--admin"),
    }
    server.start()
    tokens["b"] = create_token(server, "project-b")
    callers = {name: Caller(server, token) for name, token in tokens.items()}
    try:
        yield server, callers, list(tokens.values())
    finally:
        server.stop()


@pytest.fixture
def refreshing_server(tmp_path: Path) -> Iterator[Server]:
    """The quiet server with its fleet summary of availability refreshed every half second,
    so that fleet views take in what a test writes within its waits (default: a minute)."""
    env = {"VIMWATCH_VALIDATE_VIMS": "false", "VIMWATCH_AVAILABILITY_REFRESH": "0.5"}
    service = Server(tmp_path / "state", env=env).start()
    try:
        yield service
    finally:
        service.stop()
