"""`vimwatch vim import FILE`: a fleet file in, its VIMs registered in batches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.service import Server


@pytest.fixture
def unvalidated(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    try:
        yield server
    finally:
        server.stop()


def entry(name: str, host: str) -> dict[str, str]:
    return {
        "name": name,
        "auth_url": f"http://{host}/identity",
        "username": "nfv_user",
        "password": "s3cret",
        "project_name": "nfv",
        "project_domain_name": "Default",
        "user_domain_name": "Default",
    }


def test_a_yaml_fleet_is_imported_in_batches_with_a_progress_bar(
    unvalidated: Server, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump([entry(f"site-{n}", f"127.0.2.{n + 1}") for n in range(5)]))
    done = unvalidated.cli("vim", "import", str(fleet), "--batch-size", "2", "-f", "json")
    imported = json.loads(done.stdout)
    assert [row["name"] for row in imported] == [f"site-{n}" for n in range(5)]
    assert "5/5" in done.stderr
    listed = unvalidated.cli_json("vim", "list")
    assert sorted(row["name"] for row in listed) == [f"site-{n}" for n in range(5)]
    shown = unvalidated.cli_json("vim", "show", "site-3")
    assert "s3cret" not in json.dumps(shown)


def test_an_entry_without_a_name_is_refused_before_anything_is_sent(
    unvalidated: Server, tmp_path: Path
) -> None:
    broken = entry("", "127.0.0.1")
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps([entry("fine", "127.0.0.2"), broken]))
    done = unvalidated.cli("vim", "import", str(fleet), check=False)
    assert done.returncode != 0
    assert "fleet.json[1]" in done.stderr and "name" in done.stderr
    assert unvalidated.cli_json("vim", "list") == []
