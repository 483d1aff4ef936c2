"""Liveness for operators and load balancers, and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from starlette.concurrency import run_in_threadpool

from vimwatch.registry.database import Registry
from vimwatch.registry.models import Vim

router = APIRouter(tags=["health"])


def _vims_by_status(registry: Registry) -> dict[str, int]:
    with registry.reading() as session:
        rows = session.execute(
            select(Vim.status, func.count()).where(Vim.deleted_at.is_(None)).group_by(Vim.status)
        )
        return {status: count for status, count in rows}


class _RegistryCollector:
    """Counts read at scrape time, so the figures are never stale or double-kept."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        gauge = GaugeMetricFamily("vimwatch_vims", "Live VIMs by status", labels=["status"])
        for status, count in _vims_by_status(self._registry).items():
            gauge.add_metric([status], count)
        yield gauge


def metrics_registry(registry: Registry) -> CollectorRegistry:
    collectors = CollectorRegistry()
    collectors.register(_RegistryCollector(registry))
    return collectors


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    def database_ok() -> bool:
        with request.app.state.registry.reading() as session:
            session.execute(text("SELECT 1"))
        return True

    engine = request.app.state.engine
    return {
        "status": "ok",
        "database": await run_in_threadpool(database_ok),
        "monitors": len(engine.scheduler) if engine else None,
    }


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(generate_latest, request.app.state.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
