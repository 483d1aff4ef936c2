"""How list requests are read: exact-match filters and `fields=` projection."""

from __future__ import annotations

from typing import Any


def present_filters(candidates: dict[str, list[str]]) -> dict[str, list[str]]:
    """Drop empty values and absent keys, as Tacker does; repeated values are OR'ed later."""
    filters = {key: [v for v in values if v] for key, values in candidates.items()}
    return {key: values for key, values in filters.items() if values}


def project(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Keep only the requested keys; no fields means everything."""
    wanted = [f for field in fields for f in field.split(",") if f]
    if not wanted:
        return item
    return {key: item[key] for key in wanted if key in item}
