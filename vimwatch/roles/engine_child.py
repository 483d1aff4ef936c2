"""The embedded default's engine process as a child of the api, started before anything else.

`vimwatch serve` starts its engine process (vimwatch.roles.engine_process) first thing,
before the api imports FastAPI, SQLAlchemy and the rest and migrates the database: the
child's own imports, the larger part of its start, then run on another core beside the
api's instead of after them (a server's first /healthz 200 came a third sooner on a
loaded two-core machine: CONTRIBUTING.md). The child waits for its settings on stdin,
which the api writes once the schema is current (vimwatch.roles.engine_supervisor). This
module imports only the standard library, so that nothing delays the start.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys


class EngineChild:
    """One engine process: its stdin for the settings and casts, its end of the socket
    pair for questions, and its exit, awaited on the loop."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair()
        try:
            self._popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "vimwatch.roles.engine_process",
                    str(os.getpid()),
                    str(theirs.fileno()),
                ],
                stdin=subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                # Out of the terminal's process group: Ctrl-C reaches the api, which then
                # stops the engine process after the requests in flight are answered.
                start_new_session=True,
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        #: The api's end of the socket pair (vimwatch.roles.engine_control).
        self.channel = mine
        self._stdin: asyncio.StreamWriter | None = None

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    async def stdin(self) -> asyncio.StreamWriter:
        """The child's stdin as a stream on the running loop (a burst of casts waits in
        `drain` instead of blocking the loop on a full pipe)."""
        if self._stdin is None:
            pipe = self._popen.stdin
            if pipe is None:
                raise RuntimeError("the engine process was started without a stdin pipe")
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.connect_write_pipe(
                lambda: asyncio.streams.FlowControlMixin(loop), pipe
            )
            self._stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        return self._stdin

    async def wait(self) -> int:
        """The exit code, once the child exits: its pidfd is watched on the loop, so the
        wait holds no thread and may be cancelled."""
        if self._popen.poll() is None:
            loop = asyncio.get_running_loop()
            exited: asyncio.Future[None] = loop.create_future()

            def readable() -> None:
                if not exited.done():
                    exited.set_result(None)

            pidfd = os.pidfd_open(self._popen.pid)
            loop.add_reader(pidfd, readable)
            try:
                await exited
            finally:
                loop.remove_reader(pidfd)
                os.close(pidfd)
        return self._popen.wait()

    def kill(self) -> None:
        self._popen.send_signal(signal.SIGKILL)

    def discard(self) -> None:
        """Kill the child if it still runs: the api failed before it took the child on
        (a bad setting, key or database), so the child never got its settings."""
        if self._popen.poll() is None:
            self.kill()
            self._popen.wait()
        if self._popen.stdin is not None and self._stdin is None:
            self._popen.stdin.close()
        self.channel.close()
