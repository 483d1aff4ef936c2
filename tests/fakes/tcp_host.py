"""A VIM endpoint on 127.0.0.1 that a test can take down and bring back, for the tcp probe.

Closing the listening socket makes connects fail at once (connection refused), which is
an outage any machine can stage without root; bringing it back rebinds the same port.
"""

from __future__ import annotations

import socket
import threading

from tests.service import free_port


class TcpHost:
    def __init__(self) -> None:
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/identity"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def down(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _accept(self, listener: socket.socket) -> None:
        listener.settimeout(0.1)
        while self._listener is listener:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.close()

    def __enter__(self) -> TcpHost:
        self.up()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.down()


def register_tcp_vim(
    server,  # noqa: ANN001 - tests.service.Server
    name: str,
    host: TcpHost,
    project: str | None = None,
    **monitor: object,
) -> str:
    """Register a VIM probed over tcp at `host`; the server must skip VIM validation."""
    body = {
        "vim": {
            "name": name,
            "type": "openstack",
            "auth_url": host.auth_url,
            "auth_cred": {"username": "u", "password": "p"},
            "vim_project": {"name": "nfv"},
            "extra": {"monitor": {"probe": "tcp", **monitor}},
        }
    }
    headers = {"X-Project-Id": project} if project else {}
    response = server.api("POST", "/v1.0/vims", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["vim"]["id"]
