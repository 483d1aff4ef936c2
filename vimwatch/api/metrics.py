"""/metrics for Prometheus, readable only by whoever may see every project.

The exposition names every VIM above no cut-off (ids, names, statuses), so under token or
Keystone auth it is as private as the admin's VIM list: it answers an admin's token, or
the scrape token an operator configures (VIMWATCH_METRICS_TOKEN), sent as Prometheus
sends credentials (`Authorization: Bearer`) or as the API's own X-Auth-Token. Without
auth (noauth) every caller is an admin already.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import presented_token, request_context
from vimwatch.errors import Forbidden, NotAuthenticated

router = APIRouter(tags=["health"])


def _check_access(request: Request) -> None:
    """Sync, as the Keystone check behind request_context is; runs in a thread."""
    settings = request.app.state.settings
    if settings.auth == "noauth":
        return
    presented = presented_token(request)
    if not presented:
        raise NotAuthenticated(
            "Authentication required: /metrics needs an admin token or the metrics token."
        )
    scrape_token = settings.metrics_token
    if scrape_token is not None and hmac.compare_digest(
        presented.encode(), scrape_token.get_secret_value().encode()
    ):
        return
    if not request_context(request).is_admin:
        raise Forbidden("/metrics shows every project's VIMs: it needs an admin token.")


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    await run_in_threadpool(_check_access, request)
    body = await run_in_threadpool(generate_latest, request.app.state.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
