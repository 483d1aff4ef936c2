"""One server per state dir, and a taken port refused before any start-up work."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.service import Server

ENV = {"VIMWATCH_VALIDATE_VIMS": "false"}


def test_a_second_server_on_the_same_state_dir_refuses_and_names_the_first(
    tmp_path: Path,
) -> None:
    first = Server(tmp_path / "state", env=ENV).start()
    second = Server(tmp_path / "state", env=ENV)
    try:
        log = second.refuses_to_start()
        assert (
            f"another vimwatch server (pid {first.process.pid}) is using the state directory "
            f"{tmp_path / 'state'}"
        ) in log
        assert first.api("GET", "/healthz").status_code == 200
    finally:
        first.stop()
    # The lock goes with the process that held it: no stale lock file to clean up.
    second.start()
    second.stop()


def test_a_taken_port_fails_before_any_start_up_work(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = Server(tmp_path / "state", env=ENV)
        server.port = taken.getsockname()[1]
        log = server.refuses_to_start()
    assert f"cannot listen on 127.0.0.1:{server.port}" in log
    assert "Address already in use" in log
    # Not migrated, no key made, no lock taken: the state dir was never even created.
    assert not server.state_dir.exists()
