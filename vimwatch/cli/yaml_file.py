"""Reading the YAML files the CLI is given, with a bound on what their aliases expand to.

An alias repeats a node without repeating its text, so a few lines of nested aliases (a
"billion laughs" file) stand for billions of values: loading one grew the CLI to
gigabytes before it died without a word. The document is composed first, its expanded
size counted (each node once, thanks to a memo), and only a file within the bound is
turned into Python values.
"""

from __future__ import annotations

from typing import Any

import yaml

from vimwatch.cli.client import CommandError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: much faster on fleets
#: Values a file may stand for once its aliases are expanded: at least this many, and up to
#: EXPANSION times the nodes it actually spells out (a shared block of defaults
#: referenced by every entry of a fleet stays well inside that).
MIN_EXPANDED = 100_000
EXPANSION = 10


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(values the document stands for, nodes it spells out), in time linear in the
    latter; raises ValueError for an alias that refers to a node containing itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ValueError("an alias refers to a node that contains it")
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(key)
        sizes[key] = total
        return total

    return size(root), len(sizes)


def load_yaml(text: str, path: object) -> Any:
    """The document in `text` as Python values; `path` names the file in messages.

    Raises CommandError for a file past the bounds, and yaml.YAMLError for one that is
    not YAML (each caller words that its own way)."""
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        expanded, spelled_out = _expanded_size(root)
        limit = max(MIN_EXPANDED, EXPANSION * spelled_out)
        if expanded > limit:
            raise CommandError(
                f"{path}: its YAML aliases expand to {expanded} values, more than the "
                f"{limit} allowed; write the repeated parts out instead"
            )
        return loader.construct_document(root)
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None
    except RecursionError:
        raise CommandError(f"{path} is nested too deeply to read") from None
    finally:
        loader.dispose()
