"""Availability on /metrics: the fleet's ratio per standard window and each VIM's, read
from the same fleet summary the fleet view pages through."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.rows import vim_row
from vimwatch.metrics.availability import AvailabilityCollector
from vimwatch.registry.database import Registry, make_db_engine, migrate, utcnow
from vimwatch.registry.events import record_event
from vimwatch.registry.fleet_summary import FleetSummary
from vimwatch.registry.models import Vim


def _ratios(collector: AvailabilityCollector) -> dict[tuple[str, ...], float]:
    return {
        (sample.name, *sample.labels.values()): sample.value
        for family in collector.collect()
        if "availability_ratio" in family.name
        for sample in family.samples
    }


def test_ratios_per_window_come_from_the_fleet_summary(tmp_path: Path) -> None:
    db_engine = make_db_engine(f"sqlite:///{tmp_path / 'metrics.db'}")
    migrate(db_engine)
    registry = Registry(db_engine)
    now = utcnow()
    born = now - timedelta(hours=3)
    with registry.transaction() as session:
        session.add(Vim(**{**vim_row("edge", tenant="p"), "created_at": born}))
        for state, event_type, at in [
            ("PENDING", "CREATE", born),
            ("REACHABLE", "MONITOR", born),
            ("UNREACHABLE", "MONITOR", now - timedelta(minutes=30)),
        ]:
            record_event(
                session,
                vim_id="edge",
                tenant_id="p",
                state=state,
                event_type=event_type,
                timestamp=at,
            )
    summary = FleetSummary(registry)
    collector = AvailabilityCollector(registry, lambda fleet: True, summary)
    assert _ratios(collector) == {}, "nothing until the job has refreshed the summary"

    summary.refresh(now)

    ratios = _ratios(collector)
    assert ratios[("vimwatch_availability_ratio", "1h")] == 0.5
    assert ratios[("vimwatch_availability_ratio", "30d")] == 5 / 6
    assert ratios[("vimwatch_vim_availability_ratio", "edge", "edge", "p", "24h")] == 5 / 6
    db_engine.dispose()
