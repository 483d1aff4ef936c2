"""Reading a fleet file for `vimwatch vim import`: a YAML or JSON list of VIM configs.

Each entry is a Tacker VIM config (as `vim register --config-file` reads) plus the
VIM's `name`, and optionally `description`, `is_default` and `tenant_id`. JSON is read
with the json module and YAML with libyaml when present: the pure-Python YAML parser
takes seconds over a ten-thousand-VIM file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from vimwatch.cli.client import CommandError
from vimwatch.cli.vim_config import body_from_mapping
from vimwatch.cli.yaml_file import load_yaml

_REGISTER_KEYS = ("description", "is_default", "tenant_id")


def read_fleet(path: Path) -> list[dict[str, Any]]:
    """The `vim` request bodies of every entry, checked before anything is sent."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    try:
        entries = json.loads(text) if text.lstrip()[:1] in ("[", "{") else load_yaml(text, path)
    except (ValueError, yaml.YAMLError) as exc:
        message = f"{path} is neither valid JSON nor YAML: {exc}".replace("\n", " ")
        raise CommandError(message) from None
    if isinstance(entries, dict) and isinstance(entries.get("vims"), list):
        entries = entries["vims"]
    if not isinstance(entries, list) or not entries:
        raise CommandError(f"{path} must hold a non-empty list of VIM configs")
    bodies = []
    for index, entry in enumerate(entries):
        origin = f"{path}[{index}]"
        if not isinstance(entry, dict):
            raise CommandError(f"{origin} must be a mapping of VIM settings")
        if not entry.get("name"):
            raise CommandError(f"{origin}: 'name' is required")
        body = body_from_mapping(entry, origin, also_known=("name", *_REGISTER_KEYS))
        body["name"] = str(entry["name"])
        body.update({key: entry[key] for key in _REGISTER_KEYS if key in entry})
        bodies.append(body)
    return bodies
