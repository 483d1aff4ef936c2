"""Every list pages by limit and marker, so a large fleet never answers in one huge page."""

from __future__ import annotations

import pytest

from tests.service import Server


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Server:  # noqa: ANN001
    server = Server(
        tmp_path_factory.mktemp("paging") / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}
    ).start()
    ids = [server.register(f"vim{n}", f"127.0.3.{n + 1}") for n in range(7)]
    # Settled first: a VIM turning REACHABLE mid-walk would change the pages under it.
    server.wait_for(lambda: all(server.vim_status(vim_id) == "REACHABLE" for vim_id in ids))
    yield server
    server.stop()


def walk(server: Server, path: str, key: str, limit: int, **params: str) -> list[dict]:
    seen, marker = [], None
    for _ in range(20):
        query = {"limit": limit, **params, **({"marker": marker} if marker else {})}
        page = server.api("GET", path, params=query).json()[key]
        if not page:
            return seen
        assert len(page) <= limit
        seen += page
        marker = page[-1]["id"]
    raise AssertionError("paging never ended")


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1.0/vims", "vims"),
        ("/v1.0/events", "events"),
        ("/v2/workflows", "workflows"),
        ("/v2/executions", "executions"),
        ("/v2/tasks", "tasks"),
    ],
)
def test_walking_the_pages_yields_every_item_once_in_order(fleet: Server, path, key) -> None:
    everything = fleet.api("GET", path).json()[key]
    assert len(everything) >= 7
    assert walk(fleet, path, key, limit=3) == everything


def test_newest_first_pages_walk_backwards(fleet: Server) -> None:
    everything = fleet.api("GET", "/v2/executions", params={"sort_dirs": "desc"}).json()
    paged = walk(fleet, "/v2/executions", "executions", limit=2, sort_dirs="desc")
    assert paged == everything["executions"]
    assert paged[0]["created_at"] >= paged[-1]["created_at"]


def test_a_full_page_links_to_the_next(fleet: Server) -> None:
    body = fleet.api("GET", "/v1.0/events", params={"limit": 2}).json()
    assert "marker=" in body["events_links"][0]["href"]


def test_an_unknown_marker_is_a_400(fleet: Server) -> None:
    answer = fleet.api("GET", "/v2/tasks", params={"marker": "no-such-task"})
    assert answer.status_code == 400
    assert "marker" in answer.json()["faultstring"]


def test_pages_are_bounded(fleet: Server) -> None:
    assert fleet.api("GET", "/v1.0/events", params={"limit": 10_001}).status_code == 400
    assert fleet.api("GET", "/v2/tasks", params={"limit": 0}).status_code == 400


@pytest.mark.parametrize("raw", ["%C2%B2", "99999999999999999999999", "-1", "1e3"])
def test_event_ids_that_are_not_plain_integers_are_not_found(fleet: Server, raw: str) -> None:
    assert fleet.api("GET", f"/v1.0/events/{raw}").status_code == 404
    listed = fleet.api("GET", f"/v1.0/events?id={raw}")
    assert listed.status_code == 200 and listed.json()["events"] == []
