"""Progress bars: drawn in place on a terminal, absent from pipes and logs."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.fakes.tcp_host import TcpHost, register_tcp_vim
from tests.service import Server
from vimwatch.cli.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_redraws_one_line_on_a_terminal() -> None:
    screen = Terminal()
    bar = ProgressBar(4, "re-encrypting", screen)
    bar.advance(2)
    bar.advance(2)
    bar.close()
    frames = screen.getvalue().split("\r")[1:]
    assert frames[1] == "re-encrypting [" + "#" * 15 + "-" * 15 + "] 2/4"
    assert frames[-1] == "re-encrypting [" + "#" * 30 + "] 4/4\n"


def test_nothing_is_drawn_when_the_output_is_not_a_terminal() -> None:
    log = io.StringIO()
    bar = ProgressBar(4, "re-encrypting", log)
    bar.advance(4)
    bar.close()
    assert log.getvalue() == ""


def test_key_rotation_shows_its_progress_on_a_terminal(tmp_path: Path) -> None:
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    try:
        with TcpHost() as host:
            for n in range(3):
                register_tcp_vim(server, f"sealed-{n}", host)
    finally:
        server.stop()
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "vimwatch", "keys", "rotate"],
            env=server.env,
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=60,
        )
        os.close(terminal)
        drawn = b""
        while chunk := _read(controller):
            drawn += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0
    assert "re-encrypted 3 sealed credentials" in done.stdout
    assert b"re-encrypting [" + b"#" * 30 + b"] 3/3" in drawn


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal's other end is closed: everything has been read
        return b""
