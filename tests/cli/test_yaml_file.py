"""YAML files the CLI reads may use aliases, but not to stand for more than they spell out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.service import Server
from vimwatch.cli.client import CommandError
from vimwatch.cli.fleet_file import read_fleet
from vimwatch.cli.yaml_file import MIN_EXPANDED, _expanded_size, load_yaml

CONFIG = """
auth_url: http://127.0.0.1/identity
project_name: p
username: u
password: pw
"""


def laughs(levels: int) -> str:
    """A "billion laughs" document: each level holds nine aliases of the one below."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        below = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{below}]")
    return "\n".join(lines) + f"\nextra: {{bomb: *l{levels}}}\n"


@pytest.mark.parametrize("command", ["register", "update"])
def test_an_alias_bomb_config_file_is_refused_with_a_message(tmp_path: Path, command: str) -> None:
    config = tmp_path / "vim.yaml"
    config.write_text(CONFIG + laughs(9))
    # Nothing listens on the port: the file must be refused before anything is sent.
    result = Server(tmp_path / "state").cli(
        "vim", command, "--config-file", str(config), "v", check=False
    )
    assert result.returncode != 0
    assert "YAML aliases expand to" in result.stderr and "write the repeated parts out" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_an_alias_bomb_fleet_file_is_refused_with_a_message(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        laughs(9) + "vims:\n- {name: a, auth_url: 'http://127.0.0.1/', project_name: p}\n"
    )
    result = Server(tmp_path / "state").cli("vim", "import", str(fleet), check=False)
    assert result.returncode != 0
    assert f"{fleet}: its YAML aliases expand to" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_self_referring_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="refers to a node that contains it"):
        load_yaml("a: &a [1, *a]\n", "loop.yaml")


def test_a_shared_block_of_defaults_in_a_large_fleet_is_read(tmp_path: Path) -> None:
    """Expanded, this fleet holds more values than the floor: the bound it meets is the one
    relative to what the file spells out."""
    sites = 10_000
    lines = [
        "defaults: &defaults",
        "  project_name: nfv",
        "  project_domain_name: Default",
        "  user_domain_name: Default",
        "  username: nfv_user",
        "  password: s3cret",
        "  cert_verify: 'True'",
        "vims:",
    ]
    for n in range(sites):
        lines += [
            "- <<: *defaults",
            f"  name: site-{n}",
            f"  auth_url: http://127.0.2.{n % 250 + 1}/",
        ]
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("\n".join(lines) + "\n")
    bodies = read_fleet(fleet)
    assert len(bodies) == sites
    assert bodies[-1]["name"] == f"site-{sites - 1}"
    assert bodies[-1]["auth_cred"]["username"] == "nfv_user"
    expanded, _ = _expanded_size(yaml.compose(fleet.read_text(), yaml.SafeLoader))
    assert expanded > MIN_EXPANDED  # the premise: past the floor
