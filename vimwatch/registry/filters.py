"""Query filters as the OpenStack APIs spell them.

Mistral accepts `key=op:value` with the operators below (a bare value means eq); Tacker
accepts `key=value` repeated, OR'ed. Both end up as SQL conditions built here, on columns
the caller has allowed, so a filter can never name an arbitrary attribute. Values are
read as the column's type first: a date that is not a date is the caller's mistake (400),
where the database would answer it with an error (PostgreSQL) or compare it as text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Select

from vimwatch.errors import BadRequest

_OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": lambda c, v: c == v,
    "neq": lambda c, v: c != v,
    "in": lambda c, v: c.in_(v),
    "nin": lambda c, v: c.not_in(v),
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "has": lambda c, v: c.contains(v),
}
_LISTS = frozenset({"in", "nin"})


def _typed(column: Any, key: str, value: str) -> Any:
    if not isinstance(column.type, DateTime):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"filter {key}: {value!r} is not a date and time (YYYY-MM-DD HH:MM:SS)"
        ) from None
    # The registry keeps naive UTC times.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def mistral_condition(column: Any, key: str, expression: str) -> ColumnElement[bool]:
    operator, sep, value = expression.partition(":")
    if not (sep and operator in _OPERATORS):
        operator, value = "eq", expression
    if operator == "has" and isinstance(column.type, DateTime):
        raise BadRequest(f"filter {key}: 'has' applies to text, not to a date and time")
    if operator in _LISTS:
        return _OPERATORS[operator](column, [_typed(column, key, v) for v in value.split(",")])
    return _OPERATORS[operator](column, _typed(column, key, value))


def apply_mistral_filters(
    query: Select[Any], model: type, filters: dict[str, str], allowed: frozenset[str]
) -> Select[Any]:
    for key, expression in filters.items():
        if key not in allowed:
            raise BadRequest(f"cannot filter on {key!r}; filterable fields: {sorted(allowed)}")
        query = query.where(mistral_condition(getattr(model, key), key, expression))
    return query
