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
    SummaryMetricFamily,
)
from sqlalchemy import func, select

from vimwatch.contract import MONITOR_STATUSES, REACHABLE
from vimwatch.hosts.engine import Engine
from vimwatch.instruments import ALL
from vimwatch.metrics.availability import AvailabilityCollector
from vimwatch.metrics.loop_lag import LoopLag
from vimwatch.metrics.probes import ProbeStats, RttHistogram
from vimwatch.registry.database import Registry
from vimwatch.registry.fleet_summary import FleetSummary
from vimwatch.registry.models import Vim
from vimwatch.webhooks.outbox import pending_count

PER_VIM_AUTO_LIMIT = 1000
SLIP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
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
                        Vim.deleted_at.is_(None), Vim.status.in_(MONITOR_STATUSES)
                    )
                )
                for vim_id, name, project, status in rows:
                    up.add_metric([vim_id, name, project], 1 if status == REACHABLE else 0)
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
        slip = scheduler.slip
        late = HistogramMetricFamily(
            "vimwatch_probe_slip_seconds",
            "How late probes left against their schedule (no _sum: buckets and count only)",
        )
        late.add_metric(
            [],
            [*((repr(b), slip.at_most(b)) for b in SLIP_BUCKETS), ("+Inf", slip.total)],
            None,
        )
        yield late
        yield from self._api_checks()
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

    def _api_checks(self) -> Iterator[Metric]:
        """The API checks (extra.monitor.checks): fleet-wide always, per VIM below the
        cut-off, like the probes."""
        checks = self._engine.api_checks
        by_state = GaugeMetricFamily(
            "vimwatch_api_checks",
            "API checks of this engine's VIMs by state (pending, passing, failing)",
            labels=["state"],
        )
        for state, count in checks.states().items():
            by_state.add_metric([state], count)
        yield by_state
        yield CounterMetricFamily(
            "vimwatch_api_check_logins", "Logins the API checks made", value=checks.logins
        )
        yield CounterMetricFamily(
            "vimwatch_api_check_failed_logins",
            "Logins the VIMs refused (each backs its VIM off)",
            value=checks.failed_logins,
        )
        yield CounterMetricFamily(
            "vimwatch_api_checks_failed", "API check runs that failed", value=checks.checks_failed
        )
        yield SummaryMetricFamily(
            "vimwatch_api_check_latency_seconds",
            "How long API check runs took, login included",
            count_value=checks.checks_run,
            sum_value=checks.latency_total,
        )
        if not wants_per_vim(self._per_vim, len(self._engine.scheduler)):
            return
        up = GaugeMetricFamily(
            "vimwatch_vim_api_check_up",
            "1 if the VIM's API check passes, 0 if it fails (pending checks have no series)",
            labels=["vim_id"],
        )
        latency = GaugeMetricFamily(
            "vimwatch_vim_api_check_latency_seconds",
            "How long the VIM's last API check took",
            labels=["vim_id"],
        )
        for vim_id in checks.vims():
            check = checks.state_of(vim_id)
            if check is None:
                continue
            if check.state != "pending":
                up.add_metric([vim_id], 1 if check.state == "passing" else 0)
            if check.latency is not None:
                latency.add_metric([vim_id], check.latency)
        yield up
        yield latency


def metrics_registry(
    registry: Registry | None,
    per_vim: PerVim,
    engine: Engine | None = None,
    stats: ProbeStats | None = None,
    loop_lag: LoopLag | None = None,
    summary: FleetSummary | None = None,
) -> CollectorRegistry:
    """The collectors a process serves; engine ones only where the engine runs.

    Only the api reads the fleet from the database (pass its registry): were engines and
    conductors to serve those series too, a Prometheus summing over processes would count
    every VIM once per process.
    """
    collectors = CollectorRegistry()
    if registry is not None:
        collectors.register(RegistryCollector(registry, per_vim))
        collectors.register(
            AvailabilityCollector(registry, lambda fleet: wants_per_vim(per_vim, fleet), summary)
        )
    for instrument in ALL:
        collectors.register(instrument)
    if engine is not None and stats is not None:
        collectors.register(EngineCollector(engine, stats, per_vim))
    if loop_lag is not None:
        collectors.register(loop_lag.histogram)
    return collectors
