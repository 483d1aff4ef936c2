"""What /metrics shows, read at scrape time from the registry and from the engine.

Reading at scrape time means the figures are never stale and never kept twice. Per-VIM
series (an up/down gauge and a round-trip histogram per VIM) are what an operator alerts
on, but they cost one series per VIM (fifteen for a histogram): the `metrics_per_vim`
setting turns them on or off, and its default, `auto`, keeps them while the fleet has at
most PER_VIM_AUTO_LIMIT VIMs. Fleet-wide series are always there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy import func, select

from vimwatch.metrics.instruments import ALL
from vimwatch.metrics.loop_lag import LoopLag
from vimwatch.metrics.probes import ProbeStats, RttHistogram
from vimwatch.monitor.engine import Engine
from vimwatch.registry.database import Registry
from vimwatch.registry.models import Vim
from vimwatch.webhooks.outbox import pending_count

PER_VIM_AUTO_LIMIT = 1000
PerVim = bool | Literal["auto"]


def wants_per_vim(setting: PerVim, fleet: int) -> bool:
    return fleet <= PER_VIM_AUTO_LIMIT if setting == "auto" else bool(setting)


def _histogram(family: HistogramMetricFamily, labels: list[str], rtt: RttHistogram) -> None:
    family.add_metric(labels, rtt.cumulative(), rtt.total)


class RegistryCollector:
    """VIMs by status (and each VIM up or down), from the database every process shares."""

    def __init__(self, registry: Registry, per_vim: PerVim) -> None:
        self._registry = registry
        self._per_vim = per_vim

    def collect(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily("vimwatch_vims", "Live VIMs by status", labels=["status"])
        with self._registry.reading() as session:
            counts = dict(
                session.execute(
                    select(Vim.status, func.count())
                    .where(Vim.deleted_at.is_(None))
                    .group_by(Vim.status)
                ).all()
            )
            for status, count in counts.items():
                by_status.add_metric([status], count)
            yield by_status
            if wants_per_vim(self._per_vim, sum(counts.values())):
                up = GaugeMetricFamily(
                    "vimwatch_vim_up",
                    "1 if the VIM is REACHABLE, 0 if UNREACHABLE (PENDING VIMs have no series)",
                    labels=["vim_id", "name", "project_id"],
                )
                rows = session.execute(
                    select(Vim.id, Vim.name, Vim.tenant_id, Vim.status).where(
                        Vim.deleted_at.is_(None), Vim.status.in_(("REACHABLE", "UNREACHABLE"))
                    )
                )
                for vim_id, name, project, status in rows:
                    up.add_metric([vim_id, name, project], 1 if status == "REACHABLE" else 0)
                yield up
            yield GaugeMetricFamily(
                "vimwatch_webhook_deliveries_pending",
                "Webhook deliveries not yet delivered nor given up",
                value=pending_count(session),
            )


class EngineCollector:
    """What the engine running in this process counts: probes, round trips, reports."""

    def __init__(self, engine: Engine, stats: ProbeStats, per_vim: PerVim) -> None:
        self._engine = engine
        self._stats = stats
        self._per_vim = per_vim

    def collect(self) -> Iterator[Metric]:
        scheduler = self._engine.scheduler
        yield GaugeMetricFamily(
            "vimwatch_monitors", "Monitors running in this engine", value=len(scheduler)
        )
        yield CounterMetricFamily(
            "vimwatch_probes_sent", "Probes sent by this engine", value=scheduler.probes_sent
        )
        yield CounterMetricFamily(
            "vimwatch_probes_lost",
            "Probes that failed (no answer in time, refused, or unresolvable)",
            value=scheduler.probes_lost,
        )
        yield CounterMetricFamily(
            "vimwatch_status_reports_failed",
            "Status changes the engine could not report to a conductor (retried later)",
            value=scheduler.reports_failed,
        )
        fleet = HistogramMetricFamily(
            "vimwatch_probe_rtt_seconds", "Round-trip time of successful probes, all VIMs"
        )
        _histogram(fleet, [], self._stats.fleet)
        yield fleet
        self._stats.forget_all_but(scheduler)
        if wants_per_vim(self._per_vim, len(scheduler)):
            per_vim = HistogramMetricFamily(
                "vimwatch_vim_probe_rtt_seconds",
                "Round-trip time of successful probes, per VIM",
                labels=["vim_id"],
            )
            for vim_id, rtt in self._stats.per_vim():
                _histogram(per_vim, [vim_id], rtt)
            yield per_vim


def metrics_registry(
    registry: Registry | None,
    per_vim: PerVim,
    engine: Engine | None = None,
    stats: ProbeStats | None = None,
    loop_lag: LoopLag | None = None,
) -> CollectorRegistry:
    """The collectors a process serves; engine ones only where the engine runs.

    Only the api reads the fleet from the database (pass its registry): were engines and
    conductors to serve those series too, a Prometheus summing over processes would count
    every VIM once per process.
    """
    collectors = CollectorRegistry()
    if registry is not None:
        collectors.register(RegistryCollector(registry, per_vim))
    for instrument in ALL:
        collectors.register(instrument)
    if engine is not None and stats is not None:
        collectors.register(EngineCollector(engine, stats, per_vim))
    if loop_lag is not None:
        collectors.register(loop_lag.histogram)
    return collectors
