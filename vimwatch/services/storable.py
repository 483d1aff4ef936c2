"""What any text or free-form JSON given to vimwatch must be, checked before storage.

SQLite stores almost anything, but PostgreSQL refuses a NUL character in text and NaN or
Infinity in JSON, and MariaDB's JSON check refuses documents nested deeper than about 32
levels; left to the database, each became a 500 or 503 on some databases and a row that
broke every later list on others. Refusing them here gives one 400, with the reason, on
all three, and nothing stored.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator

#: Deepest nesting of objects and arrays in a free-form JSON field (`extra`, `auth_cred`,
#: `vim_project`): well under MariaDB's limit, and far beyond any real configuration.
MAX_JSON_DEPTH = 16
#: Largest free-form JSON field, as compact JSON; room for a CA bundle in `auth_cred`.
MAX_JSON_BYTES = 64 * 1024


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text on every database, or None if it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode()
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def _check_text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _json_problem(value: Any, depth: int) -> str | None:
    """The first reason `value` (found at nesting `depth`) cannot be stored, or None."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "must not hold NaN or Infinity (JSON has no such numbers)"
    if isinstance(value, dict | list):
        if depth >= MAX_JSON_DEPTH:
            return f"must not be nested more than {MAX_JSON_DEPTH} levels deep"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            problem = (text_problem(key) if isinstance(key, str) else None) or _json_problem(
                item, depth + 1
            )
            if problem:
                return problem
    return None


def _check_json(value: Any) -> Any:
    problem = _json_problem(value, 0)
    if problem is None and len(json.dumps(value, separators=(",", ":"))) > MAX_JSON_BYTES:
        problem = f"must not be larger than {MAX_JSON_BYTES} bytes as JSON"
    if problem:
        raise ValueError(problem)
    return value


#: A string any database stores as given.
Text = Annotated[str, AfterValidator(_check_text)]
#: A free-form JSON object any database stores as given, within the depth and size limits.
JsonObject = Annotated[dict[str, Any], AfterValidator(_check_json)]
