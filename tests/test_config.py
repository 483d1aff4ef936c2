"""Server settings come from a file, then the environment; mistakes stop start-up clearly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.service import VIMWATCH
from vimwatch.config import load_settings
from vimwatch.errors import InvalidConfig


def test_file_settings_are_read_and_environment_wins(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "vimwatch.yaml"
    config.write_text(f"state_dir: {tmp_path}/s\nmonitor_interval: 2.5\nvalidate_vims: false\n")
    monkeypatch.setenv("VIMWATCH_MONITOR_INTERVAL", "0.5")
    monkeypatch.delenv("VIMWATCH_CONFIG", raising=False)
    settings = load_settings(str(config))
    assert settings.monitor_interval == 0.5
    assert settings.validate_vims is False
    assert settings.effective_database_url == f"sqlite:///{tmp_path}/s/vimwatch.db"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VIMWATCH_MONITOR_INTERVAL": "-1"}, "monitor_interval"),
        ({"VIMWATCH_MONITOR_TIMEOUT": "soon"}, "monitor_timeout"),
        ({"VIMWATCH_AUTH": "none-at-all"}, "auth"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(monkeypatch, env, message) -> None:
    monkeypatch.delenv("VIMWATCH_CONFIG", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InvalidConfig, match=message):
        load_settings()


def test_serve_with_a_missing_config_file_exits_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [*VIMWATCH, "serve", "--config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_serve_refuses_world_readable_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "fernet.keys").write_text("x" * 44 + "\n")
    (keys / "fernet.keys").chmod(0o644)
    result = subprocess.run(
        [*VIMWATCH, "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"VIMWATCH_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "refusing to use" in result.stderr
