"""Mistral's version discovery: what a client (or keystoneauth on its behalf) reads at the
API's root before it calls /v2.

The server's root also takes browsers to the dashboard, so the root answers the version
document only to a caller that asks for JSON and not for HTML; /v2/ always answers it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

router = APIRouter(tags=["workflows"])


def _v2(request: Request) -> dict[str, Any]:
    href = str(request.base_url).rstrip("/") + "/v2"
    return {
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"href": href, "target": "v2", "rel": "self"}],
    }


def wants_versions(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


@router.get("/", include_in_schema=False)
async def root(request: Request) -> Response:
    """The dashboard for a browser; Mistral's version list for a client asking for JSON."""
    if wants_versions(request):
        return JSONResponse({"versions": [_v2(request)]})
    return RedirectResponse("/dashboard", status_code=307)


@router.get("/v2")
@router.get("/v2/", include_in_schema=False)
async def v2_root(request: Request) -> dict[str, Any]:
    """Mistral answers its v2 root with the version's address."""
    version = _v2(request)
    return {"uri": version["links"][0]["href"], "version": version}
