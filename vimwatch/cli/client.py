"""The HTTP client the CLI commands share: finds the server, turns failures into messages."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import httpx


class CommandError(Exception):
    """A one-line message for the user; cliff prints it and exits non-zero."""


class NotSent(CommandError):
    """No connection to the server could be made: the request was not carried out."""


class NoAnswer(CommandError):
    """The request was sent but no answer came back: it may or may not have been carried
    out (the server may have stored a write and then lost the connection)."""


class Refused(CommandError):
    """The server answered with an error: nothing of the request was stored."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text.strip()[:200]}"
    if isinstance(body, dict):
        if isinstance(body.get("TackerError"), dict):
            return body["TackerError"].get("message", "")
        if "faultstring" in body:
            return str(body["faultstring"])
        if "detail" in body:
            return str(body["detail"])
    return f"HTTP {response.status_code}"


class ApiClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Accept": "application/json"}
        token = (token or "").strip()  # as pasted from `token create`, spaces and all
        if token:
            headers["X-Auth-Token"] = token
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise NotSent(f"cannot reach vimwatch at {self.url}: {exc}") from None
        except httpx.HTTPError as exc:
            raise NoAnswer(f"no answer from vimwatch at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise Refused(error_message(response), response.status_code)
        return response.json() if response.content else None

    def get(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params)


@runtime_checkable
class _WithClient(Protocol):
    @property
    def client(self) -> ApiClient: ...


def api_client(app: object) -> ApiClient:
    """The API client of the vimwatch app running a command: cliff types a command's `app`
    as its own base class, which has none."""
    if not isinstance(app, _WithClient):
        raise TypeError(f"{type(app).__name__} has no vimwatch API client")
    return app.client
