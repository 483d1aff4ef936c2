"""The dashboard's 30-day bars in a real headless Chromium: a cell per day coloured by that
day's uptime, a VIM in maintenance marked as such, and the fleet's 30-day ratio.

Thirty days of history cannot be lived in a test, so the VIMs' past is written into the
server's database (backdated creation and outages) while their present is probed live.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.test_dashboard_browser import RED, browser_page  # noqa: F401 - a fixture
from tests.service import Server

pytestmark = pytest.mark.browser
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "availability.png"
GREEN = "rgb(26, 127, 55)"
AMBER = "rgb(212, 167, 44)"


def _backdate(server: Server, vim_id: str, outages: dict[int, timedelta]) -> None:
    """Make the VIM 29 days old, REACHABLE since, but for an outage on each given day
    (days ago, starting at 02:00 UTC)."""
    today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    born = today - timedelta(days=29)
    rows = [(born + timedelta(minutes=1), "REACHABLE")]
    for days_ago, length in sorted(outages.items(), reverse=True):
        down = today - timedelta(days=days_ago) + timedelta(hours=2)
        rows += [(down, "UNREACHABLE"), (down + length, "REACHABLE")]
    with sqlite3.connect(server.state_dir / "vimwatch.db") as db:
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("UPDATE vims SET created_at = ? WHERE id = ?", (str(born), vim_id))
        db.execute(
            "UPDATE events SET timestamp = ? WHERE resource_id = ? AND event_type = 'CREATE'",
            (str(born), vim_id),
        )
        db.executemany(
            "INSERT INTO events (resource_id, resource_type, resource_state, event_type,"
            " timestamp, event_details, tenant_id) VALUES (?, 'vim', ?, 'MONITOR', ?, '', ?)",
            [(vim_id, status, str(at), "default") for at, status in rows],
        )


def _fill(page, vim_id: str, day: int) -> str:  # noqa: ANN001 - a playwright Page
    """The computed colour of a VIM's cell for `day` days ago."""
    return page.evaluate(
        """([vimId, day]) => {
            const cells = document.querySelectorAll(`tr[data-vim-id="${vimId}"] svg.days rect`);
            return getComputedStyle(cells[cells.length - 1 - day]).fill;
        }""",
        [vim_id, day],
    )


def test_each_vim_shows_thirty_days_coloured_by_uptime_and_its_maintenance(
    refreshing_server: Server,
    browser_page,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    server, page = refreshing_server, browser_page
    steady = server.register("core-steady")
    shaky = server.register("edge-shaky")
    resting = server.register("edge-upgrading")
    _backdate(server, steady, {})
    _backdate(server, shaky, {20: timedelta(hours=3), 9: timedelta(minutes=30)})
    _backdate(server, resting, {3: timedelta(minutes=5)})
    end = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    window = {"maintenance_window": {"vim_ids": [resting], "end": end, "reason": "upgrade"}}
    assert server.api("POST", "/v1.0/maintenance_windows", json=window).status_code == 201

    def fleet_ratio_with_the_outages() -> float | None:
        fleet = server.api("GET", "/v1.0/availability", params={"window": "30d"}).json()
        ratio = fleet["availability"]["ratio"]
        return ratio if ratio is not None and ratio < 1 else None

    # The page reads the fleet's ratio when it loads: once the snapshot has the outages.
    ratio = server.wait_for(fleet_ratio_with_the_outages)
    page.set_viewport_size({"width": 1600, "height": 420})
    page.goto(server.url + "/dashboard")
    page.wait_for_function("document.querySelectorAll('svg.days').length === 3")
    for vim_id in (steady, shaky, resting):
        count = page.locator(f'tr[data-vim-id="{vim_id}"] svg.days rect').count()
        assert count == 30
    assert {_fill(page, steady, day) for day in range(1, 30)} == {GREEN}
    assert _fill(page, shaky, 20) == RED  # 3 h down: 87.5 %
    assert _fill(page, shaky, 9) == AMBER  # 30 min down: 97.9 %
    assert _fill(page, shaky, 8) == GREEN
    assert _fill(page, resting, 3) == "rgb(155, 233, 168)"  # 5 min down: 99.65 %
    badge = page.locator(f'tr[data-vim-id="{resting}"] .in-maintenance')
    assert badge.inner_text() == "maintenance"
    assert page.locator(f'tr[data-vim-id="{shaky}"] .in-maintenance').count() == 0

    expected = f"30 days: {ratio * 100:.3f} %"
    page.locator("#fleet-ratio", has_text="30 days: 99.").wait_for(timeout=10_000)
    assert page.locator("#fleet-ratio").inner_text()[:14] == expected[:14]
    page.screenshot(path=str(tmp_path / "availability.png"))
    if os.environ.get("VIMWATCH_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "availability.png", DOCS_SCREENSHOT)
