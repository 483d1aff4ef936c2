"""The one place where errors become HTTP responses.

Legacy routes answer in Tacker's envelope and Mistral-compatible routes in Mistral's, so
each family of clients prints the message it expects. Anything unexpected becomes a 500
whose body says nothing about the request (no credential can leak through a traceback).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from vimwatch.errors import VimwatchError

LOG = logging.getLogger(__name__)


class _TackerFault(BaseModel):
    type: str
    message: str
    detail: str


class TackerErrorBody(BaseModel):
    """The error envelope of every route outside /v2, as Tacker's clients read it."""

    TackerError: _TackerFault


class MistralErrorBody(BaseModel):
    """The error body of the /v2 routes, as python-mistralclient reads it."""

    faultcode: str
    faultstring: str
    debuginfo: str | None


ERROR_STATUSES = {
    400: "the request is malformed or invalid",
    401: "no valid token",
    403: "not allowed",
    404: "no such resource (or not visible to the caller)",
    409: "conflicts with an existing resource",
    413: "request body too large",
    429: "the caller's request rate is spent; retry after Retry-After seconds",
    503: "a service vimwatch depends on is unavailable",
}


def documented_errors(model: type[BaseModel]) -> dict[int | str, dict]:
    """OpenAPI entries for the errors a route can answer, so clients and fuzzers know them."""
    return {
        code: {"model": model, "description": description}
        for code, description in ERROR_STATUSES.items()
    }


def error_response(request: Request, status: int, kind: str, message: str) -> JSONResponse:
    if request.url.path.startswith("/v2"):
        body: dict[str, Any] = {
            "faultcode": "Client" if status < 500 else "Server",
            "faultstring": message,
            "debuginfo": None,
        }
    else:
        body = {"TackerError": {"type": kind, "message": message, "detail": ""}}
    return JSONResponse(body, status_code=status)


#: Attributes a client may read but never send on create, as Tacker's attribute map had them.
_NOT_POSTABLE = frozenset(
    {"id", "status", "placement_attr", "created_at", "updated_at", "shared", "deleted_at"}
)


def _describe(exc: RequestValidationError, method: str) -> str:
    """Tacker's texts for a body it would refuse, in Tacker's order of checks, so tools
    matching on them keep working."""
    errors = exc.errors()
    if exc.body in (None, b"", "", {}) and any(_is_missing_body(error) for error in errors):
        return "Resource body required"
    missing_resources = _resources(errors)
    if any(
        error["type"] == "extra_forbidden"
        and len(error["loc"]) == 2
        and str(error["loc"][1]).removesuffix("s") in missing_resources
        for error in errors
    ):
        return "Bulk operation not supported"
    if missing_resources:
        return f"Unable to find '{sorted(missing_resources)[0]}' in request body"
    problems = []
    unknown = []
    for error in errors:
        loc = [str(part) for part in error["loc"] if part != "body"]
        location = ".".join(loc)
        if error["type"] == "extra_forbidden":
            key = loc[-1] if loc else location
            if method == "POST" and len(loc) == 2 and key in _NOT_POSTABLE:
                problems.append(f"Attribute '{key}' not allowed in POST")
            else:
                unknown.append(key)
        elif error["type"] == "missing":
            problems.append(
                f"Failed to parse request. Required attribute '{loc[-1]}' not specified"
            )
        else:
            message = error["msg"].removeprefix("Value error, ")
            if message.startswith("Cannot update read-only attribute"):
                problems.append(message)
            else:
                problems.append(f"Invalid input for {location or 'body'}. Reason: {message}.")
    if unknown:
        problems.insert(0, f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    return "; ".join(problems)


def _is_missing_body(error: dict) -> bool:
    return error["type"] in ("missing", "json_invalid") or tuple(error["loc"]) == ("body",)


def _resources(errors: Sequence[Any]) -> set[str]:
    """The resource keys (`vim`) the body lacked: `{"vims": [...]}` is a bulk request."""
    return {
        str(error["loc"][1])
        for error in errors
        if error["type"] == "missing" and len(error["loc"]) == 2 and error["loc"][0] == "body"
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VimwatchError)
    async def _known(request: Request, exc: VimwatchError) -> JSONResponse:
        return error_response(request, exc.status_code, type(exc).__name__, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request, 400, "HTTPBadRequest", _describe(exc, request.method))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(request, exc.status_code, "HTTPError", str(exc.detail))

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError) -> JSONResponse:
        # Only the driver's own words (e.g. "database or disk is full"): the statement and
        # its parameters stay out of the response and the log.
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        LOG.warning("%s %s: database unavailable: %s", request.method, request.url.path, reason)
        return error_response(
            request, 503, "DatabaseUnavailable", f"the database cannot be used right now: {reason}"
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        LOG.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(
            request, 500, "InternalError", "internal server error while processing the request"
        )
