"""Listing a large fleet: pages by marker in creation order, and counts without a list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service import Server


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Server, list[str]]]:
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    try:
        ids = []
        for n in range(5):
            body = {
                "vim": {
                    "name": f"vim-{n}",
                    "type": "openstack",
                    "auth_url": f"http://127.0.0.{n + 1}/identity",
                    "auth_cred": {"username": "u", "password": "p"},
                    "vim_project": {"name": "nfv"},
                }
            }
            response = server.api("POST", "/v1.0/vims", json=body)
            assert response.status_code == 201, response.text
            ids.append(response.json()["vim"]["id"])
        yield server, ids
    finally:
        server.stop()


def test_pages_come_in_creation_order_each_linking_to_the_next(fleet) -> None:
    server, ids = fleet
    seen, sizes = [], []
    url = f"{server.url}/v1.0/vims?limit=2&fields=id"
    while url:
        body = httpx.get(url, timeout=30).json()
        sizes.append(len(body["vims"]))
        seen += [vim["id"] for vim in body["vims"]]
        links = {link["rel"]: link["href"] for link in body.get("vims_links", [])}
        url = links.get("next")
    assert seen == ids
    assert sizes[:3] == [2, 2, 1]


def test_without_a_limit_every_vim_below_the_cap_comes_in_one_response(fleet) -> None:
    server, ids = fleet
    body = server.api("GET", "/v1.0/vims").json()
    assert [vim["id"] for vim in body["vims"]] == ids
    assert "vims_links" not in body


def test_a_marker_that_names_no_vim_is_refused(fleet) -> None:
    server, _ = fleet
    response = server.api("GET", "/v1.0/vims", params={"limit": 2, "marker": "no-such-vim"})
    assert response.status_code == 400
    assert "marker" in response.json()["TackerError"]["message"]


def test_counts_by_status_add_up_to_the_live_vims(fleet) -> None:
    server, ids = fleet
    assert server.api("DELETE", f"/v1.0/vims/{ids[0]}").status_code == 204
    body = server.api("GET", "/v1.0/vims/counts").json()
    assert body["total"] == 4
    assert sum(body["counts"].values()) == 4
    assert set(body["counts"]) <= {"PENDING", "REACHABLE", "UNREACHABLE"}
