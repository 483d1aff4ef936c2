"""What the API refuses in a request's URL before any route sees it."""

from __future__ import annotations

from fastapi import Request

from vimwatch.errors import BadRequest


def refuse_nul_in_url(request: Request) -> None:
    """An application-wide dependency: a path segment or query value with a NUL in it can
    name nothing vimwatch stores, and PostgreSQL refuses to even compare with one."""
    if "\x00" in request.scope["path"]:
        raise BadRequest("the request path must not contain NUL characters")
    for key, value in request.query_params.multi_items():
        if "\x00" in key or "\x00" in value:
            raise BadRequest(f"query parameter {key!r} must not contain NUL characters")
