"""The names of checks a VIM can carry, as operators write them.

A VIM has exactly one reachability check (the probe kind: icmp, tcp or http) and may add
`api`, the API check of its type. Kept free of imports so that settings can use it.
"""

from __future__ import annotations

from collections.abc import Iterable

REACHABILITY = ("icmp", "tcp", "http")
API = "api"
CHECKS = (*REACHABILITY, API)


def parse_checks(names: Iterable[str]) -> list[str]:
    """The checks in their canonical order (reachability first); ValueError naming the
    problem when a name is unknown, repeated, or the reachability check is not one."""
    given = list(names)
    unknown = [name for name in given if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check {unknown[0]!r}: checks are {', '.join(CHECKS)}")
    if len(set(given)) != len(given):
        raise ValueError("a check is named twice")
    probes = [name for name in given if name in REACHABILITY]
    if len(probes) != 1:
        raise ValueError(f"name exactly one reachability check of {', '.join(REACHABILITY)}")
    return probes + [name for name in given if name == API]
