"""Query filters as the OpenStack APIs spell them.

Mistral accepts `key=op:value` with the operators below (a bare value means eq); Tacker
accepts `key=value` repeated, OR'ed. Both end up as SQL conditions built here, on columns
the caller has allowed, so a filter can never name an arbitrary attribute.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select

from vimwatch.errors import BadRequest

_OPERATORS = {
    "eq": lambda c, v: c == v,
    "neq": lambda c, v: c != v,
    "in": lambda c, v: c.in_(v.split(",")),
    "nin": lambda c, v: c.not_in(v.split(",")),
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "has": lambda c, v: c.contains(v),
}


def mistral_condition(column: Any, expression: str) -> ColumnElement[bool]:
    operator, sep, value = expression.partition(":")
    if sep and operator in _OPERATORS:
        return _OPERATORS[operator](column, value)
    return column == expression


def apply_mistral_filters(
    query: Select, model: type, filters: dict[str, str], allowed: frozenset[str]
) -> Select:
    for key, expression in filters.items():
        if key not in allowed:
            raise BadRequest(f"cannot filter on {key!r}; filterable fields: {sorted(allowed)}")
        query = query.where(mistral_condition(getattr(model, key), expression))
    return query
