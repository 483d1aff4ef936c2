"""Turning a request into a RequestContext.

Only `noauth` exists yet: every caller is an admin, in the project named by the
X-Project-Id header or the configured default project.
"""

from __future__ import annotations

from fastapi import Request

from vimwatch.context import RequestContext


def request_context(request: Request) -> RequestContext:
    settings = request.app.state.settings
    project = request.headers.get("X-Project-Id") or settings.default_project
    return RequestContext(project_id=project, roles=frozenset({"admin"}))
