"""The HTTP client the CLI commands share: finds the server, turns failures into messages."""

from __future__ import annotations

from typing import Any

import httpx


class CommandError(Exception):
    """A one-line message for the user; cliff prints it and exits non-zero."""


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
        if token:
            headers["X-Auth-Token"] = token
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CommandError(f"cannot reach vimwatch at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise CommandError(error_message(response))
        return response.json() if response.content else None

    def get(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params)
