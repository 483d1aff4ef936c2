"""After a stop, even `kill -9`, every live VIM is monitored again, once; deleted ones never."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from tests.service import Server


def executions(server: Server, vim_id: str) -> list[dict]:
    return server.api("GET", "/v2/executions", params={"workflow_name": f"vim_id_{vim_id}"}).json()[
        "executions"
    ]


def monitor_events(server: Server, vim_id: str) -> int:
    events = server.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()["events"]
    return sum(e["event_type"] == "MONITOR" for e in events)


def unvalidated_server(tmp_path: Path) -> Server:
    return Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"})


def test_kill_9_then_restart_resumes_each_monitor_exactly_once(tmp_path: Path) -> None:
    server = unvalidated_server(tmp_path).start()
    try:
        kept = [server.register(f"kept-{n}", f"127.0.0.{n + 1}") for n in range(3)]
        gone = server.register("gone")
        server.wait_for(lambda: all(server.vim_status(v) == "REACHABLE" for v in kept))
        assert server.api("DELETE", f"/v1.0/vims/{gone}").status_code == 204
        before = {vim_id: executions(server, vim_id) for vim_id in kept}
        server.stop(signal.SIGKILL)

        server.start()
        assert server.api("GET", "/healthz").json()["monitors"] == len(kept)
        for vim_id in kept:
            after = executions(server, vim_id)
            assert [e["state"] for e in after] == ["RUNNING"]
            assert after[0]["id"] == before[vim_id][0]["id"]
        assert executions(server, gone) == []
        assert server.api("GET", "/v2/workflows", params={"name": f"vim_id_{gone}"}).json() == {
            "workflows": []
        }
    finally:
        server.stop()


def test_start_up_repairs_a_delete_or_register_interrupted_half_way(tmp_path: Path) -> None:
    server = unvalidated_server(tmp_path).start()
    try:
        orphaned = server.register("orphaned-workflow")
        unmonitored = server.register("lost-workflow")
        server.wait_for(lambda: server.vim_status(unmonitored) == "REACHABLE")
    finally:
        server.stop(signal.SIGKILL)

    # What a crash between the steps of delete or register would leave behind.
    with sqlite3.connect(tmp_path / "state" / "vimwatch.db") as db:
        db.execute(
            "UPDATE vims SET deleted_at = CURRENT_TIMESTAMP, tombstone = id WHERE id = ?",
            (orphaned,),
        )
        for table in ("tasks", "executions", "workflows"):
            db.execute(f"DELETE FROM {table} WHERE vim_id = ?", (unmonitored,))

    server.start()
    try:
        assert executions(server, orphaned) == []
        assert [e["state"] for e in executions(server, unmonitored)] == ["RUNNING"]
        assert server.api("GET", "/healthz").json()["monitors"] == 1
        events_before = monitor_events(server, orphaned)
        server.wait_for(lambda: server.api("GET", "/healthz").json()["monitors"] == 1)
        assert monitor_events(server, orphaned) == events_before
    finally:
        server.stop()
