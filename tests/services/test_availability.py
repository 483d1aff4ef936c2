"""Availability reports agree with a brute-force reading of the same history, on every
database: random histories are written through the real conductor (with restarts of the
registry connection, repeated reports, deletes and maintenance windows, weekly ones too),
then each report is checked against a count made hour by hour from the history itself:
from the events alone, with some days rolled up (vimwatch.registry.rollups), and with
every closed day rolled up; and the fleet summary's snapshot against the same count."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from tests.rows import vim_row
from vimwatch.conductor import status_changes
from vimwatch.context import RequestContext, admin_context
from vimwatch.registry import maintenance, rollups
from vimwatch.registry.database import Registry, make_db_engine
from vimwatch.registry.events import record_event
from vimwatch.registry.fleet_summary import FleetSummary
from vimwatch.registry.models import Event, Vim
from vimwatch.services.availability import fleet_report, vim_report

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK_HOURS = 7 * 24
SPAN_HOURS = 4 * WEEK_HOURS  # each history fits in four weeks...
_SLOTS = itertools.count()  # ...and each example has a stretch of time of its own


@dataclass
class Vimline:
    """What the test did to one VIM, in hours from the example's start."""

    created: int
    changes: list[tuple[int, str]]
    deleted: int | None


@dataclass
class Window:
    scope: str  # "vims" (the example's first VIM), "project" or "all"
    start: int
    length: int
    weekly: bool
    deleted: int | None


@dataclass
class History:
    vims: list[Vimline]
    windows: list[Window]
    restarts: list[int]
    since: int
    until: int
    ids: list[str] = field(default_factory=list)


@st.composite
def histories(draw: st.DrawFn) -> History:
    vims = []
    for _ in range(draw(st.integers(1, 3))):
        created = draw(st.integers(0, SPAN_HOURS // 2))
        times = sorted(draw(st.lists(st.integers(created, SPAN_HOURS), max_size=12)))
        statuses = draw(
            st.lists(
                st.sampled_from(["REACHABLE", "UNREACHABLE"]),
                min_size=len(times),
                max_size=len(times),
            )
        )
        deleted = draw(st.one_of(st.none(), st.integers(created, SPAN_HOURS)))
        changes = [(t, s) for t, s in zip(times, statuses, strict=True)]
        vims.append(Vimline(created, changes, deleted))
    windows = [
        Window(
            scope=draw(st.sampled_from(["vims", "project", "all"])),
            start=(start := draw(st.integers(0, SPAN_HOURS))),
            length=draw(st.integers(1, WEEK_HOURS - 1)),
            weekly=draw(st.booleans()),
            deleted=draw(st.one_of(st.none(), st.integers(start, SPAN_HOURS))),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    restarts = draw(st.lists(st.integers(0, SPAN_HOURS), max_size=3))
    since = draw(st.integers(0, SPAN_HOURS - 1))
    until = draw(st.integers(since + 1, SPAN_HOURS))
    return History(vims, windows, restarts, since, until)


class Clock:
    """The time the conductor reads, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2000, 1, 1)

    def __call__(self) -> datetime:
        return self.now


def _write(url: str, registry: Registry, clock: Clock, base: datetime, h: History) -> Registry:
    """Play the history in time order through the conductor; a restart swaps the
    registry for a new connection, after which the engine reports every status again."""
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    h.ids = [str(uuid.uuid4()) for _ in h.vims]
    steps: list[tuple[int, int, object]] = []
    for n, line in enumerate(h.vims):
        steps.append((line.created, 0, ("create", n)))
        steps += [(t, 1, ("change", n, status)) for t, status in line.changes]
        if line.deleted is not None:
            steps.append((line.deleted, 2, ("delete", n)))
    for w in h.windows:
        steps.append((w.start, -1, ("window", w)))
    steps += [(t, 3, ("restart",)) for t in h.restarts]
    reported: dict[int, str] = {}
    for at, _, step in sorted(steps, key=lambda s: (s[0], s[1])):
        clock.now = base + at * HOUR
        kind = step[0]
        if kind == "create":
            row = {**vim_row(h.ids[step[1]], tenant), "created_at": clock.now}
            with registry.transaction() as session:
                session.execute(insert(Vim.__table__), [row])
                record_event(
                    session,
                    vim_id=row["id"],
                    tenant_id=tenant,
                    state="PENDING",
                    event_type="CREATE",
                    timestamp=clock.now,
                )
        elif kind == "change":
            status_changes.apply_status_change(registry, h.ids[step[1]], step[2])
            reported[step[1]] = step[2]
        elif kind == "delete":
            with registry.transaction() as session:
                vim = session.get(Vim, h.ids[step[1]])
                vim.deleted_at, vim.tombstone = clock.now, vim.id
                session.add(
                    Event(
                        resource_id=vim.id,
                        resource_type="vim",
                        resource_state=vim.status,
                        event_type="DELETE",
                        timestamp=clock.now,
                        event_details="",
                        tenant_id=tenant,
                    )
                )
        elif kind == "window":
            w = step[1]
            with registry.transaction() as session:
                maintenance.add_window(
                    session,
                    tenant,
                    scope=w.scope,
                    vim_ids=[h.ids[0]] if w.scope == "vims" else [],
                    target_project=tenant if w.scope != "all" else None,
                    starts_at=clock.now,
                    ends_at=clock.now + w.length * HOUR,
                    weekly=w.weekly,
                    reason="property test",
                    created_at=clock.now,
                    deleted_at=base + _window_end_of_life(w) * HOUR,
                )
        else:
            registry.db_engine.dispose()
            registry = Registry(make_db_engine(url))
            for n, status in reported.items():  # a no-op for a VIM whose status stands
                status_changes.apply_status_change(registry, h.ids[n], status)
    return registry


def _window_end_of_life(w: Window) -> int:
    """Every window is deleted by the end of its example, so that a weekly one (or one
    over every VIM) never reaches into the stretch of time of the next example."""
    return SPAN_HOURS if w.deleted is None else w.deleted


def _in_window(w: Window, hour: int) -> bool:
    if hour < w.start or hour >= _window_end_of_life(w):
        return False
    offset = hour - w.start
    return (offset % WEEK_HOURS if w.weekly else offset) < w.length


def _brute_force(h: History, n: int) -> dict[str, float]:
    """Hour by hour: the status in force, whether a window covers it, and runs of down."""
    line = h.vims[n]
    up = down = pending = resting = 0
    outages: list[int] = []
    run = 0
    for hour in range(h.since, h.until):
        alive = line.created <= hour and (line.deleted is None or hour < line.deleted)
        status = "PENDING"
        for t, s in line.changes:
            if t <= hour and (line.deleted is None or t < line.deleted):
                status = s
        covered = any(_in_window(w, hour) and (w.scope != "vims" or n == 0) for w in h.windows)
        counted_down = alive and not covered and status == "UNREACHABLE"
        if not alive:
            pass
        elif covered:
            resting += 1
        elif status == "REACHABLE":
            up += 1
        elif status == "UNREACHABLE":
            down += 1
        else:
            pending += 1
        if counted_down:
            run += 1
        elif run:
            outages.append(run)
            run = 0
    if run:
        outages.append(run)
    seconds = 3600.0
    return {
        "up_seconds": up * seconds,
        "down_seconds": down * seconds,
        "pending_seconds": pending * seconds,
        "maintenance_seconds": resting * seconds,
        "outages": len(outages),
        "longest_outage_seconds": max(outages, default=0) * seconds,
        "ratio": up / (up + down) if up + down else None,
    }


FIGURES = (
    "up_seconds",
    "down_seconds",
    "pending_seconds",
    "maintenance_seconds",
    "outages",
    "longest_outage_seconds",
    "ratio",
)


def _same(report: dict, expected: dict) -> None:
    for key in FIGURES:
        if key == "ratio" and expected[key] is not None:
            assert report[key] == pytest.approx(expected[key]), key
        else:
            assert report[key] == expected[key], key


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(h=histories())
# A VIM created and deleted at once, at the start of a history shorter than the week
# summed: the week begins before the history, so the VIM's moment falls inside it.
@example(h=History([Vimline(0, [], 0), Vimline(0, [], None)], [], [], 0, 10))
def test_reports_match_a_brute_force_count_of_the_history(
    registry: Registry, h: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(status_changes, "utcnow", clock)
    base = datetime(2000, 1, 1) + next(_SLOTS) * timedelta(days=40)
    url = registry.db_engine.url.render_as_string(hide_password=False)
    registry = Registry(make_db_engine(url))
    try:
        registry = _write(url, registry, clock, base, h)
        since, until = base + h.since * HOUR, base + h.until * HOUR
        _check_reports(registry, h, base, since, until)
        # Some days rolled up (the newest few, as the job's first pass does), then every
        # day of the example's stretch of time (none of the next one's: those are not over).
        rollups.roll_up(registry, clock.now, most=h.until % 5 + 1)
        _check_reports(registry, h, base, since, until)
        rollups.roll_up(registry, base + SPAN_HOURS * HOUR + 2 * DAY, most=100)
        _check_reports(registry, h, base, since, until)
        summary = FleetSummary(registry, windows=("7d",))
        summary.refresh(until)
        [snapshot] = summary.snapshots()
        tenant = _tenant_of(registry, h.ids[0])
        shown = fleet_report(
            registry,
            admin_context(),
            *_period(snapshot),
            project=tenant,
            limit=10,
            snapshot=snapshot,
        )
        # The summed week begins a week before `until`, before the history when it is short.
        week = History(h.vims, h.windows, h.restarts, h.until - WEEK_HOURS, h.until)
        existed = {
            vim_id
            for vim_id, line in zip(h.ids, h.vims, strict=True)
            if line.created < week.until and (line.deleted is None or line.deleted > week.since)
        }
        assert {row["id"] for row in shown["vims"]} == existed
        for row in shown["vims"]:
            _same(row, _brute_force(week, h.ids.index(row["id"])))
    finally:
        registry.db_engine.dispose()


def _period(snapshot) -> tuple[datetime, datetime]:  # noqa: ANN001 - a fleet summary snapshot
    return snapshot.since, snapshot.until


def _check_reports(
    registry: Registry, h: History, base: datetime, since: datetime, until: datetime
) -> None:
    """Each live VIM's report and the project's fleet report against the brute force."""
    admin = admin_context()
    for n, vim_id in enumerate(h.ids):
        expected = _brute_force(h, n)
        if h.vims[n].deleted is None:
            _same(vim_report(registry, admin, vim_id, since, until), expected)
    tenant = _tenant_of(registry, h.ids[0])
    fleet = fleet_report(registry, admin, since, until, project=tenant, limit=10)
    shown = {row["id"]: row for row in fleet["vims"]}
    for n, vim_id in enumerate(h.ids):
        line = h.vims[n]
        existed = base + line.created * HOUR < until and (
            line.deleted is None or base + line.deleted * HOUR > since
        )
        assert (vim_id in shown) == existed
        if existed:
            _same(shown[vim_id], _brute_force(h, n))
    ratios = [row["ratio"] for row in fleet["vims"]]
    counted = [r for r in ratios if r is not None]
    assert counted == sorted(counted) and ratios[: len(counted)] == counted
    assert fleet["total"]["down_seconds"] == sum(
        _brute_force(h, n)["down_seconds"] for n in range(len(h.ids))
    )
    own = fleet_report(registry, RequestContext(project_id="else"), since, until, limit=10)
    assert own["vims"] == [] and own["total"]["vims"] == 0


def _tenant_of(registry: Registry, vim_id: str) -> str:
    with registry.reading() as session:
        return session.get(Vim, vim_id).tenant_id
