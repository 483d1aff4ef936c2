"""Server roles on an install without the `server` extra (a Mistral executor's)."""

from __future__ import annotations

import importlib.util

import pytest

from vimwatch.cli import server
from vimwatch.cli.client import CommandError
from vimwatch.cli.server import require_server_packages


def test_an_http_role_without_the_server_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server, "SERVER_MODULES", ("fastapi", "vimwatch_no_such_module"))
    expected = r"vimwatch_no_such_module missing\): pip install 'vimwatch\[server\]'"
    with pytest.raises(CommandError, match=expected):
        require_server_packages()


def test_an_http_role_with_the_server_extra_starts() -> None:
    assert all(importlib.util.find_spec(name) for name in server.SERVER_MODULES)
    require_server_packages()
