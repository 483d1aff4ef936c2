"""Events older than the retention are pruned in batches, on every database, and every
report of a window inside the retention reads the same after as before."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from tests.rows import vim_row
from vimwatch.context import admin_context
from vimwatch.registry import rollups
from vimwatch.registry.database import Registry
from vimwatch.registry.events import record_event
from vimwatch.registry.models import AvailabilityDay, Event, Vim
from vimwatch.registry.retention import prune_events
from vimwatch.services.availability import fleet_report

START = datetime(2025, 1, 1)
DAY = timedelta(days=1)


def _history(registry: Registry) -> None:
    """Three VIMs over 100 days: one changing daily, one quiet since its first day, and
    one deleted on day 30; with UPDATE events that carry no change."""
    with registry.transaction() as session:
        for vim_id in ("busy", "quiet", "gone"):
            session.add(Vim(**{**vim_row(vim_id, tenant="p"), "created_at": START}))
            record_event(
                session,
                vim_id=vim_id,
                tenant_id="p",
                state="PENDING",
                event_type="CREATE",
                timestamp=START,
            )
        for day in range(1, 100):
            status = "UNREACHABLE" if day % 3 == 0 else "REACHABLE"
            at = START + day * DAY
            record_event(
                session,
                vim_id="busy",
                tenant_id="p",
                state=status,
                event_type="MONITOR",
                timestamp=at,
            )
            record_event(
                session,
                vim_id="busy",
                tenant_id="p",
                state=status,
                event_type="UPDATE",
                timestamp=at + timedelta(hours=1),
            )
        record_event(
            session,
            vim_id="quiet",
            tenant_id="p",
            state="REACHABLE",
            event_type="MONITOR",
            timestamp=START + DAY,
        )
        record_event(
            session,
            vim_id="gone",
            tenant_id="p",
            state="PENDING",
            event_type="DELETE",
            timestamp=START + 30 * DAY,
        )
        gone = session.get(Vim, "gone")
        gone.deleted_at, gone.tombstone = START + 30 * DAY, "gone"


def _reports(registry: Registry, since: datetime, until: datetime) -> dict:
    report = fleet_report(registry, admin_context(), since, until, limit=10)
    return {row["id"]: row for row in report["vims"]} | {"total": report["total"]}


def test_pruning_keeps_the_status_in_force_and_reports_inside_the_retention(
    registry: Registry,
) -> None:
    _history(registry)
    cutoff = START + 50 * DAY + timedelta(hours=12)
    inside = [(cutoff, START + 100 * DAY), (cutoff + 7 * DAY, START + 80 * DAY)]
    before = [_reports(registry, since, until) for since, until in inside]
    assert prune_events(registry, cutoff, batch=7) == 0, "no day is rolled up yet"
    assert rollups.roll_up(registry, START + 101 * DAY, most=200) == 100

    pruned = prune_events(registry, cutoff, batch=7)

    with registry.reading() as session:
        left = session.scalar(select(func.count()).select_from(Event))
        oldest = session.execute(
            select(Event.resource_id, Event.event_type, Event.resource_state)
            .where(Event.timestamp < cutoff)
            .order_by(Event.resource_id)
        ).all()
    # busy: its day-50 change; quiet: its only change; gone: nothing (deleted before).
    assert [tuple(row) for row in oldest] == [
        ("busy", "MONITOR", "REACHABLE"),
        ("quiet", "MONITOR", "REACHABLE"),
    ]
    # 203 events: the 98 of busy's days 51 to 99 stay, with the two above.
    assert (pruned, left) == (103, 100)
    assert [_reports(registry, since, until) for since, until in inside] == before
    assert prune_events(registry, cutoff, batch=7) == 0
    with registry.reading() as session:
        rolled_up = session.scalar(select(func.min(AvailabilityDay.day)))
    assert rolled_up == START + 50 * DAY, "roll-ups before the cut-off's day go too"


def test_only_rolled_up_days_are_pruned(registry: Registry) -> None:
    _history(registry)
    # Days 0 to 9 rolled up, the others not (as after an upgrade, the job still behind).
    for day in range(10):
        assert rollups.roll_up_day(registry, START + day * DAY)

    prune_events(registry, START + 50 * DAY)

    with registry.reading() as session:
        oldest = session.scalar(
            select(func.min(Event.timestamp)).where(Event.resource_id == "busy")
        )
    assert oldest == START + 9 * DAY, "day 9's change is the status in force on day 10"
