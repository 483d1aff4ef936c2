"""`vimwatch vim watch` follows changes live; `vimwatch complete` completes in a real bash."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.tcp_host import TcpHost, register_tcp_vim
from tests.service import Server

BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def watch(server: Server, *args: str) -> subprocess.Popen[str]:
    """Start `vimwatch vim watch` and return once it says it is watching."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vimwatch", "--os-url", server.url, "vim", "watch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server.env,
    )
    line = process.stderr.readline()
    assert "watching" in line, line + process.stderr.read()
    return process


def test_vim_watch_prints_each_status_change_of_the_named_vim(quiet_server: Server) -> None:
    with TcpHost() as host, TcpHost() as other_host:
        vim_id = register_tcp_vim(quiet_server, "watched", host, down_after=1)
        other = register_tcp_vim(quiet_server, "ignored", other_host, down_after=1)
        quiet_server.wait_for(lambda: quiet_server.vim_status(vim_id) == "REACHABLE")
        quiet_server.wait_for(lambda: quiet_server.vim_status(other) == "REACHABLE")
        process = watch(quiet_server, "watched", "--count", "2", "--json")
        try:
            other_host.down()
            quiet_server.wait_for(lambda: quiet_server.vim_status(other) == "UNREACHABLE")
            host.down()
            quiet_server.wait_for(lambda: quiet_server.vim_status(vim_id) == "UNREACHABLE")
            host.up()
            out, _ = process.communicate(timeout=20)
        finally:
            process.kill()
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["vim_name"], e["status"]) for e in events] == [
        ("watched", "UNREACHABLE"),
        ("watched", "REACHABLE"),
    ]
    assert process.returncode == 0


def test_vim_watch_prints_one_readable_line_per_change(quiet_server: Server) -> None:
    process = watch(quiet_server, "--count", "2")
    try:
        with TcpHost() as host:
            register_tcp_vim(quiet_server, "fresh", host)
            out, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    lines = out.splitlines()
    assert [line.split()[2:] for line in lines] == [
        ["fresh", "PENDING", "CREATE"],
        ["fresh", "REACHABLE", "MONITOR"],
    ]


def complete(words: str) -> list[str]:
    """What bash offers after typing `words` and pressing Tab, with vimwatch's script."""
    script = subprocess.run(
        [sys.executable, "-m", "vimwatch", "complete", "--shell", "bash"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    typed = words.split(" ")
    program = f"""
source {BASH_COMPLETION}
{script}
COMP_WORDS=({" ".join(f"'{w}'" for w in typed)})
COMP_CWORD={len(typed) - 1}
COMP_LINE='{words}'
COMP_POINT=${{#COMP_LINE}}
_vimwatch
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_shell_completion_offers_command_families_subcommands_and_options() -> None:
    if shutil.which("bash") is None or not BASH_COMPLETION.exists():
        pytest.skip("completion: needs bash and the bash-completion package")
    assert "webhook" in complete("vimwatch web")
    assert complete("vimwatch vim w") == ["watch"]
    assert set(complete("vimwatch webhook ")) == {"add", "delete", "list", "show", "test"}
    assert "--secret" in complete("vimwatch webhook add --s")
