"""The dashboard's page, its paged data, and the live event stream, over real HTTP."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import httpx

from tests.fakes.tcp_host import TcpHost, register_tcp_vim
from tests.service import Server
from vimwatch.cli.watch import SseMessage, parse_sse


class StreamReader:
    """Reads /v1.0/events/stream on a thread, handing each message to the test."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.messages: queue.Queue[SseMessage] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._url, self._headers = url, headers or {}
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        try:
            with self._client.stream("GET", self._url, headers=self._headers) as response:
                for message in parse_sse(response.iter_lines()):
                    self.messages.put(message)
        except httpx.HTTPError:
            pass

    def __enter__(self) -> StreamReader:
        """Returns once the stream is live; replayed messages before that stay queued."""
        self._thread.start()
        self.backlog: list[SseMessage] = []
        while (message := self.messages.get(timeout=15)).event != "ready":
            self.backlog.append(message)
        self.ready = message
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.close()

    def ended(self, timeout: float = 15) -> bool:
        """Whether the server ended the stream within `timeout` seconds."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def next(self, timeout: float = 15) -> SseMessage:
        return self.backlog.pop(0) if self.backlog else self.messages.get(timeout=timeout)

    def next_event(self, timeout: float = 15) -> dict:
        message = self.next(timeout)
        return {"id": message.id, **json.loads("\n".join(message.data))}


def page(server: Server, **params: object) -> dict:
    response = server.api("GET", "/dashboard/api/vims", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_root_leads_to_the_dashboard_and_its_assets_are_served(quiet_server: Server) -> None:
    root = httpx.get(quiet_server.url + "/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/dashboard"
    html = quiet_server.api("GET", "/dashboard")
    assert html.status_code == 200 and 'id="vims"' in html.text
    for asset, kind in (("dashboard.js", "javascript"), ("dashboard.css", "css")):
        served = quiet_server.api("GET", f"/dashboard/static/{asset}")
        assert served.status_code == 200 and kind in served.headers["content-type"]
    assert quiet_server.api("GET", "/dashboard/static/../../config.py").status_code == 404


def test_the_vim_page_filters_pages_and_counts_by_status(quiet_server: Server) -> None:
    with TcpHost() as up:
        down = TcpHost()  # never listening: its VIMs go UNREACHABLE
        ids = [register_tcp_vim(quiet_server, f"edge-{n}", up) for n in range(3)]
        ids.append(register_tcp_vim(quiet_server, "core-1", down, down_after=1))
        ids.append(register_tcp_vim(quiet_server, "core_2", up, project="other"))
        quiet_server.wait_for(
            lambda: page(quiet_server)["counts"] == {"REACHABLE": 4, "UNREACHABLE": 1}
        )

        everything = page(quiet_server, page_size=2)
        assert everything["total"] == 5 and len(everything["vims"]) == 2
        assert [v["name"] for v in everything["vims"]] == ["core-1", "core_2"]
        second = page(quiet_server, page_size=2, page=3)
        assert [v["name"] for v in second["vims"]] == ["edge-2"]

        edges = page(quiet_server, name="EDGE")
        assert edges["total"] == 3 and edges["counts"] == {"REACHABLE": 3}
        # `_` is a character to match, not a LIKE wildcard.
        assert [v["name"] for v in page(quiet_server, name="e_2")["vims"]] == ["core_2"]
        unreachable = page(quiet_server, status="UNREACHABLE")
        assert [v["name"] for v in unreachable["vims"]] == ["core-1"]
        assert unreachable["counts"] == {"REACHABLE": 4, "UNREACHABLE": 1}
        other = page(quiet_server, project="other")
        assert [v["name"] for v in other["vims"]] == ["core_2"]

        row = next(v for v in everything["vims"] if v["name"] == "core_2")
        assert row["type"] == "openstack" and row["project_id"] == "other"
        assert row["latency_ms"] is not None and row["latency_ms"] > 0
        assert row["recent"]["kind"] == "probes" and row["recent"]["points"][-1]["ok"] is True
        failing = page(quiet_server, status="UNREACHABLE")["vims"][0]
        assert failing["recent"]["points"][-1] == {"ok": False, "rtt_ms": None}
        assert failing["latency_ms"] is None


def test_a_project_sees_only_its_own_vims_and_events(quiet_server: Server) -> None:
    with TcpHost() as host:
        register_tcp_vim(quiet_server, "red-vim", host, project="red")
        register_tcp_vim(quiet_server, "blue-vim", host, project="blue")
        headers = {"X-Project-Id": "red"}
        # noauth callers are admins; a project header alone does not narrow an admin.
        assert page(quiet_server)["total"] == 2
        assert page(quiet_server, project="red")["total"] == 1
        timeline = quiet_server.api("GET", "/dashboard/api/events", headers=headers).json()
        assert {e["vim_name"] for e in timeline["events"]} == {"red-vim", "blue-vim"}


def test_the_stream_sends_each_status_change_as_it_happens(quiet_server: Server) -> None:
    with TcpHost() as host, StreamReader(quiet_server.url + "/v1.0/events/stream") as stream:
        vim_id = register_tcp_vim(quiet_server, "streamed", host, down_after=1)
        created = stream.next_event()
        assert (created["vim_id"], created["event_type"], created["status"]) == (
            vim_id,
            "CREATE",
            "PENDING",
        )
        reachable = stream.next_event()
        assert (reachable["status"], reachable["event_type"]) == ("REACHABLE", "MONITOR")
        host.down()
        unreachable = stream.next_event()
        assert unreachable["status"] == "UNREACHABLE" and unreachable["vim_name"] == "streamed"
        assert int(unreachable["id"]) > int(reachable["id"])


def test_a_stream_resumed_with_last_event_id_replays_what_was_missed(
    quiet_server: Server,
) -> None:
    with TcpHost() as host:
        vim_id = register_tcp_vim(quiet_server, "resumed", host)
        quiet_server.wait_for(lambda: quiet_server.vim_status(vim_id) == "REACHABLE")
        events = quiet_server.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()
        first_id = events["events"][0]["id"]
        url = quiet_server.url + "/v1.0/events/stream"
        with StreamReader(url, {"Last-Event-ID": str(first_id)}) as stream:
            replayed = stream.next_event()
            assert replayed["status"] == "REACHABLE" and int(replayed["id"]) > first_id
            host.down()
            assert stream.next_event(timeout=20)["status"] == "UNREACHABLE"


def test_the_timeline_pages_back_through_events_newest_first(quiet_server: Server) -> None:
    with TcpHost() as host:
        for n in range(3):
            register_tcp_vim(quiet_server, f"t-{n}", host)
        quiet_server.wait_for(lambda: page(quiet_server)["counts"].get("REACHABLE") == 3)
        newest = quiet_server.api("GET", "/dashboard/api/events", params={"limit": 4}).json()
        ids = [e["id"] for e in newest["events"]]
        assert ids == sorted(ids, reverse=True) and len(ids) == 4
        older = quiet_server.api(
            "GET", "/dashboard/api/events", params={"limit": 4, "before": ids[-1]}
        ).json()
        assert [e["id"] for e in older["events"]] == list(range(ids[-1] - 1, 0, -1))


def test_a_stopping_server_ends_open_streams_instead_of_waiting_out_its_grace(
    tmp_path: Path,
) -> None:
    # A grace longer than Server.stop waits: a stream left open would get the server killed.
    server = Server(tmp_path / "state", env={"VIMWATCH_SHUTDOWN_GRACE": "60"}).start()
    try:
        with StreamReader(server.url + "/v1.0/events/stream") as stream:
            assert server.stop(), "the server waited on the open stream"
            assert stream.ended()
            assert stream.messages.empty(), "the stream ended with a message (resync?)"
    finally:
        server.stop()
