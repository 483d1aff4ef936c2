"""Maintenance and availability on /metrics.

`vimwatch_vim_in_maintenance` is what the shipped alert rules are gated on, so a VIM in
planned maintenance pages nobody; `vimwatch_vims_in_maintenance` is its fleet-wide
count, for fleets above the per-VIM cut-off. Availability ratios per standard window are
per VIM while per-VIM series are on, and for the whole fleet always; they are read from
the fleet summary (vimwatch.registry.fleet_summary), recomputed once a minute, since a
window of days barely moves between scrapes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import select

from vimwatch.availability.maintenance import covers, in_force
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.fleet_summary import FleetSummary
from vimwatch.registry.maintenance import windows_between
from vimwatch.registry.models import Vim

STATUSES = ("PENDING", "REACHABLE", "UNREACHABLE")
_REFRESH_SECONDS = 60.0
_INSTANT = timedelta(microseconds=1)


class AvailabilityCollector:
    def __init__(
        self,
        registry: Registry,
        per_vim: Callable[[int], bool],
        summary: FleetSummary | None = None,
    ) -> None:
        """`per_vim` says, from the fleet's size, whether to serve per-VIM series. The
        ratios are read from `summary`, which the api's background job keeps fresh; a
        collector given none keeps a summary of its own, refreshed at most once a minute."""
        self._registry = registry
        self._per_vim = per_vim
        self._lock = threading.Lock()
        self._own = summary is None
        self._summary = summary or FleetSummary(registry)
        self._refreshed_at = float("-inf")

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with self._registry.reading() as session:
            vims = session.execute(
                select(Vim.id, Vim.name, Vim.tenant_id, Vim.status).where(Vim.deleted_at.is_(None))
            ).all()
            windows = [w for w in windows_between(session, now, now + _INSTANT) if in_force(w, now)]
        per_vim = self._per_vim(len(vims))
        resting = {vim.id for vim in vims if any(covers(w, vim.id, vim.tenant_id) for w in windows)}
        counts = GaugeMetricFamily(
            "vimwatch_vims_in_maintenance",
            "Live VIMs inside a maintenance window, by status",
            labels=["status"],
        )
        for status in STATUSES:
            counts.add_metric([status], sum(v.status == status for v in vims if v.id in resting))
        yield counts
        if per_vim:
            flags = GaugeMetricFamily(
                "vimwatch_vim_in_maintenance",
                "1 while the VIM is inside a maintenance window (alerts stay silent), else 0",
                labels=["vim_id", "name", "project_id"],
            )
            for vim in vims:
                flags.add_metric([vim.id, vim.name, vim.tenant_id], float(vim.id in resting))
            yield flags
        yield from self._availability(per_vim)

    def _availability(self, per_vim: bool) -> list[Metric]:
        if self._own:
            with self._lock:
                if time.monotonic() - self._refreshed_at >= _REFRESH_SECONDS:
                    self._summary.refresh(utcnow())
                    self._refreshed_at = time.monotonic()
        fleet = GaugeMetricFamily(
            "vimwatch_availability_ratio",
            "Uptime over up plus down time of every VIM, maintenance and PENDING left out",
            labels=["window"],
        )
        vims = GaugeMetricFamily(
            "vimwatch_vim_availability_ratio",
            "A VIM's uptime over up plus down time, maintenance and PENDING left out",
            labels=["vim_id", "name", "project_id", "window"],
        )
        for snapshot in self._summary.snapshots():
            if snapshot.fleet.total.ratio is not None:
                fleet.add_metric([snapshot.window], snapshot.fleet.total.ratio)
            if not per_vim:
                continue
            for row in snapshot.fleet.rows:
                if not row.deleted and row.figures.ratio is not None:
                    vims.add_metric(
                        [row.id, row.name, row.tenant_id, snapshot.window], row.figures.ratio
                    )
        took = GaugeMetricFamily(
            "vimwatch_availability_refresh_seconds",
            "How long the last refresh of the fleet's availability snapshots took",
        )
        if self._summary.refresh_seconds is not None:
            took.add_metric([], self._summary.refresh_seconds)
        return [fleet, vims, took] if per_vim else [fleet, took]
