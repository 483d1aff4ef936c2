"""The dashboard: its page and assets, and the paged data the page asks for.

The page is static (package data, no build step); everything it shows comes from the two
JSON routes here, scoped to the caller's project, and from the live event stream.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.api.engine_view import EngineView
from vimwatch.context import RequestContext
from vimwatch.dashboard import queries
from vimwatch.errors import NotFound
from vimwatch.metrics.probes import RecentProbe
from vimwatch.registry.checks import checks_of
from vimwatch.registry.events import MAX_EVENT_ID
from vimwatch.registry.models import Vim

router = APIRouter(tags=["dashboard"])
STATIC = files("vimwatch.dashboard") / "static"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


@router.get("/dashboard", include_in_schema=False)
async def dashboard_page() -> FileResponse:
    return FileResponse(str(STATIC / "index.html"), media_type="text/html")


@router.get("/dashboard/static/{asset}", include_in_schema=False)
async def dashboard_asset(asset: str) -> FileResponse:
    if asset not in ASSETS:
        raise NotFound(f"no dashboard asset {asset!r}")
    return FileResponse(str(STATIC / asset), media_type=ASSETS[asset])


def _probe_columns(
    vim: Vim, probes: list[RecentProbe], history: dict[str, list]
) -> tuple[float | None, dict[str, Any]]:
    """Latency (of the last probe, if it got an answer) and the sparkline's points.

    Only the embedded default's engine process, which runs every monitor, knows the
    probes; elsewhere (services mode) the sparkline shows the VIM's status history and
    the latency is unknown.
    """
    if probes:
        latency = probes[-1].rtt_ms if probes[-1].ok else None
        return latency, {
            "kind": "probes",
            "points": [{"ok": p.ok, "rtt_ms": p.rtt_ms} for p in probes],
        }
    points = [{"status": status, "at": at} for status, at in history.get(vim.id, [])]
    return None, {"kind": "status", "points": points}


@router.get("/dashboard/api/vims")
async def dashboard_vims(
    request: Request,
    context: RequestContext = Depends(request_context),
    name: str = Query(default="", max_length=255),
    status: str = Query(default="", max_length=32),
    project: str = Query(default="", max_length=64),
    page: int = Query(default=1, ge=1, le=1_000_000),
    page_size: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    where = queries.VimFilter(name=name.strip(), status=status, project=project.strip())
    state = request.app.state
    engine: EngineView | None = getattr(state, "engine", None)

    def load() -> dict[str, Any]:
        with state.registry.reading() as session:
            counts = queries.status_counts(session, context, where)
            total, vims = queries.vim_page(
                session, context, where, (page - 1) * page_size, page_size
            )
            ids = [vim.id for vim in vims]
            changed = queries.last_changes(session, ids)
            history = queries.status_history(session, ids)
            checks = checks_of(session, ids)
        probes = engine.recent(ids) if engine is not None else {}
        rows = []
        for vim in vims:
            latency, recent = _probe_columns(vim, probes.get(vim.id, []), history)
            rows.append(
                {
                    "id": vim.id,
                    "name": vim.name,
                    "type": vim.type,
                    "project_id": vim.tenant_id,
                    "status": vim.status,
                    "latency_ms": latency,
                    "last_change": str(changed.get(vim.id) or vim.created_at),
                    "recent": recent,
                    "checks": {
                        name: {"state": check["state"], "reason": check["reason"]}
                        for name, check in checks.get(vim.id, {}).items()
                    },
                }
            )
        return {
            "total": total,
            "page": page,
            "page_size": page_size,
            "counts": counts,
            "vims": rows,
        }

    return await run_in_threadpool(load)


@router.get("/dashboard/api/events")
async def dashboard_events(
    request: Request,
    context: RequestContext = Depends(request_context),
    limit: int = Query(default=50, ge=1, le=500),
    before: int | None = Query(default=None, ge=1, le=MAX_EVENT_ID),
) -> dict[str, Any]:
    def load() -> list[dict[str, Any]]:
        with request.app.state.registry.reading() as session:
            events = queries.latest_events(session, context, limit, before)
            return [event.as_dict() for event in events]

    return {"events": await run_in_threadpool(load)}
