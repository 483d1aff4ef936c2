"""Bad input is a 400 with the reason, on SQLite, PostgreSQL and MariaDB alike, and stores
nothing: NUL characters, NaN and Infinity, JSON nested or sized past the limits, URLs that
do not parse or outgrow their column, and Mistral filters that are not of the column's type.

One server per database serves the whole module (starting one per case would dominate its
runtime); each case compares every listing before and after, so none can hide a write.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.databases import KINDS, scratch_database
from tests.service import Server, vim_body
from vimwatch.services.storable import MAX_JSON_BYTES, MAX_JSON_DEPTH

PROJECT = "default"  # the member's project: a name the default-VIM check once mistook


@dataclass
class Live:
    server: Server
    member: dict[str, str]
    admin: dict[str, str]
    vim_id: str

    def call(self, method: str, path: str, *, as_admin: bool = False, **kwargs: Any):  # noqa: ANN201
        headers = self.admin if as_admin else self.member
        return self.server.api(method, path, headers=headers, **kwargs)

    def send(self, method: str, path: str, payload: Any):  # noqa: ANN201
        """`payload` as Python's json writes it, NaN and Infinity included."""
        headers = {**self.member, "Content-Type": "application/json"}
        return self.server.api(method, path, headers=headers, content=json.dumps(payload))

    def listings(self) -> list[Any]:
        """What the member and the admin can list, each still answering 200; only what a
        request writes is kept (the monitor changes statuses and adds its own events)."""
        answers = [
            self.call("GET", "/v1.0/vims"),
            self.call("GET", "/v1.0/vims", as_admin=True),
            self.call("GET", "/v1.0/events", as_admin=True),
            self.call("GET", "/v1.0/webhooks", as_admin=True),
            self.call("GET", "/v2/workflows", as_admin=True),
        ]
        assert [a.status_code for a in answers] == [200] * len(answers), answers[0].text
        member_vims, admin_vims, events, webhooks, workflows = (a.json() for a in answers)
        return [
            [_written(vim) for vim in member_vims["vims"]],
            [_written(vim) for vim in admin_vims["vims"]],
            [e["id"] for e in events["events"] if e["event_type"] != "MONITOR"],
            webhooks["webhooks"],
            [w["id"] for w in workflows["workflows"]],
        ]


def _written(vim: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in vim.items() if key not in ("status", "updated_at")}


@pytest.fixture(scope="module", params=KINDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp(request.param)
    with scratch_database(request.param, tmp) as url:
        env = {"VIMWATCH_AUTH": "token", "VIMWATCH_VALIDATE_VIMS": "false"}
        if request.param != "sqlite":
            env["VIMWATCH_DATABASE_URL"] = url
        server = Server(tmp / "state", env=env)
        member = server.cli("token", "create", "--project", PROJECT).stdout.split()[-1]
        admin = server.cli("token", "create", "--project", "ops", "--admin").stdout.split()[-1]
        server.start()
        try:
            headers = {"X-Auth-Token": member}
            response = server.api("POST", "/v1.0/vims", json=vim_body("keeper"), headers=headers)
            assert response.status_code == 201, response.text
            yield Live(server, headers, {"X-Auth-Token": admin}, response.json()["vim"]["id"])
        finally:
            server.stop()


@contextmanager
def stores_nothing(live: Live) -> Iterator[None]:
    before = live.listings()
    yield
    assert live.listings() == before


def refused(response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    message = body["TackerError"]["message"] if "TackerError" in body else body["faultstring"]
    assert fragment in message, message


def nested(depth: int) -> dict[str, Any]:
    """An object `depth` levels deep: nested(1) is {"k": 0}."""
    value: Any = 0
    for _ in range(depth):
        value = {"k": value}
    return value


def with_vim(change: dict[str, Any], **auth_cred: Any) -> dict[str, Any]:
    body = vim_body("bad")
    body["vim"].update(change)
    body["vim"]["auth_cred"].update(auth_cred)
    return body


NUL = "a\x00b"
TOO_DEEP = f"must not be nested more than {MAX_JSON_DEPTH} levels deep"
NOT_FINITE = "must not hold NaN or Infinity"
HAS_NUL = "must not contain NUL characters"

BAD_BODIES = {
    "NUL in a name": (
        "POST",
        "/v1.0/vims",
        with_vim({"name": NUL}),
        f"vim.name. Reason: {HAS_NUL}",
    ),
    "NUL in a description": (
        "POST",
        "/v1.0/vims",
        with_vim({"description": NUL}),
        f"vim.description. Reason: {HAS_NUL}",
    ),
    "lone surrogate in a name": (
        "POST",
        "/v1.0/vims",
        with_vim({"name": "a\ud800b"}),
        "vim.name. Reason: Input should be a valid string",
    ),
    "lone surrogate in extra": (
        "POST",
        "/v1.0/vims",
        with_vim({"extra": {"k": "a\ud800b"}}),
        "vim.extra. Reason: must be valid Unicode text",
    ),
    "NUL in a key of extra": ("POST", "/v1.0/vims", with_vim({"extra": {NUL: 1}}), HAS_NUL),
    "NUL in a password": ("POST", "/v1.0/vims", with_vim({}, password=NUL), "vim.auth_cred"),
    "NUL in an imported name": (
        "POST",
        "/v1.0/vims/import",
        {"vims": [with_vim({"name": NUL})["vim"]]},
        f"vims.0.name. Reason: {HAS_NUL}",
    ),
    "NaN in extra": ("POST", "/v1.0/vims", with_vim({"extra": {"x": float("nan")}}), NOT_FINITE),
    "Infinity in auth_cred": ("POST", "/v1.0/vims", with_vim({}, x=float("inf")), NOT_FINITE),
    "-Infinity in a list in vim_project": (
        "POST",
        "/v1.0/vims",
        with_vim({"vim_project": {"name": "p", "l": [float("-inf")]}}),
        NOT_FINITE,
    ),
    "extra one level too deep": (
        "POST",
        "/v1.0/vims",
        with_vim({"extra": nested(MAX_JSON_DEPTH + 1)}),
        TOO_DEEP,
    ),
    "extra 100 levels deep": ("POST", "/v1.0/vims", with_vim({"extra": nested(100)}), TOO_DEEP),
    "extra 300 levels deep": ("POST", "/v1.0/vims", with_vim({"extra": nested(300)}), TOO_DEEP),
    "extra larger than the limit": (
        "POST",
        "/v1.0/vims",
        with_vim({"extra": {"x": "y" * MAX_JSON_BYTES}}),
        f"larger than {MAX_JSON_BYTES} bytes",
    ),
    "auth_url of 255 that /v3 lengthens": (
        "POST",
        "/v1.0/vims",
        with_vim({"auth_url": "http://127.0.0.1/" + "a" * 238}),
        "auth_url must be at most 255 characters as stored",
    ),
    "imported auth_url that /v3 lengthens": (
        "POST",
        "/v1.0/vims/import",
        {"vims": [with_vim({"auth_url": "http://127.0.0.1/" + "a" * 238})["vim"]]},
        "vims[0] (bad): auth_url must be at most 255",
    ),
    "malformed IPv6 auth_url": (
        "POST",
        "/v1.0/vims",
        with_vim({"auth_url": "http://[::1/"}),
        "auth_url is not a well-formed URL",
    ),
    "NUL in a webhook URL": (
        "POST",
        "/v1.0/webhooks",
        {"webhook": {"url": f"http://127.0.0.1/{NUL}", "secret": "s"}},
        f"webhook.url. Reason: {HAS_NUL}",
    ),
    "NUL in a webhook secret": (
        "POST",
        "/v1.0/webhooks",
        {"webhook": {"url": "http://127.0.0.1/", "secret": NUL}},
        f"webhook.secret. Reason: {HAS_NUL}",
    ),
    "NUL in a webhook project": (
        "POST",
        "/v1.0/webhooks",
        {"webhook": {"url": "http://127.0.0.1/", "secret": "s", "project_id": NUL}},
        f"webhook.project_id. Reason: {HAS_NUL}",
    ),
    "malformed IPv6 webhook URL": (
        "POST",
        "/v1.0/webhooks",
        {"webhook": {"url": "http://[::1/", "secret": "s"}},
        "webhook.url",
    ),
}


@pytest.mark.parametrize("label", BAD_BODIES)
def test_bad_bodies_are_refused_with_the_reason(live: Live, label: str) -> None:
    method, path, payload, fragment = BAD_BODIES[label]
    with stores_nothing(live):
        refused(live.send(method, path, payload), fragment)


UPDATES = {
    "NUL in a new name": ({"name": NUL}, f"vim.name. Reason: {HAS_NUL}"),
    "NaN in new extra": ({"extra": {"x": float("nan")}}, NOT_FINITE),
    "new extra 300 levels deep": ({"extra": nested(300)}, TOO_DEEP),
    "Infinity in new auth_cred": ({"auth_cred": {"password": float("inf")}}, NOT_FINITE),
}


@pytest.mark.parametrize("label", UPDATES)
def test_bad_updates_are_refused_and_change_nothing(live: Live, label: str) -> None:
    change, fragment = UPDATES[label]
    with stores_nothing(live):
        refused(live.send("PUT", f"/v1.0/vims/{live.vim_id}", {"vim": change}), fragment)


NUL_IN_URLS = [
    ("GET", "/v1.0/vims/a%00b"),
    ("PUT", "/v1.0/vims/a%00b"),
    ("DELETE", "/v1.0/vims/a%00b.json"),
    ("GET", "/v1.0/vims?name=a%00b"),
    ("GET", "/v1.0/vims?marker=a%00b"),
    ("GET", "/v1.0/events?resource_id=a%00b"),
    ("GET", "/v1.0/events/1%00"),
    ("GET", "/v1.0/webhooks/a%00b"),
    ("POST", "/v1.0/webhooks/a%00b/test"),
    ("DELETE", "/v1.0/webhooks/a%00b"),
    ("GET", "/v2/workflows/a%00b"),
    ("GET", "/v2/workflows?name=a%00b"),
    ("GET", "/v2/executions/a%00b"),
    ("GET", "/v2/executions?state=in:a%00b"),
    ("GET", "/v2/executions/a%00b/tasks"),
    ("GET", "/v2/tasks/a%00b"),
    ("GET", "/v2/tasks?marker=a%00b"),
]


@pytest.mark.parametrize(("method", "path"), NUL_IN_URLS)
def test_a_nul_in_a_path_or_filter_is_refused(live: Live, method: str, path: str) -> None:
    with stores_nothing(live):
        refused(live.call(method, path, as_admin=True), "must not contain NUL characters")


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/v2/executions?created_at=gt:x", "filter created_at: 'x' is not a date and time"),
        ("/v2/workflows?updated_at=in:2026-01-01,never", "'never' is not a date and time"),
        ("/v2/tasks?started_at=has:2026", "'has' applies to text"),
    ],
)
def test_malformed_mistral_filters_are_refused(live: Live, path: str, fragment: str) -> None:
    refused(live.call("GET", path), fragment)


def test_well_formed_date_filters_select_by_time(live: Live) -> None:
    [workflow] = live.call("GET", "/v2/workflows").json()["workflows"]
    created = workflow["created_at"]
    since = live.call("GET", "/v2/workflows", params={"created_at": f"gte:{created}"})
    assert [w["id"] for w in since.json()["workflows"]] == [workflow["id"]]
    future = {"created_at": "gt:2999-01-01T00:00:00+00:00"}
    assert live.call("GET", "/v2/workflows", params=future).json() == {"workflows": []}


def test_json_at_the_limits_and_the_longest_auth_url_are_stored_on_every_database(
    live: Live,
) -> None:
    body = vim_body("at-the-limits")
    body["vim"]["extra"] = {"deep": nested(MAX_JSON_DEPTH - 1)}
    body["vim"]["auth_url"] = "http://127.0.0.1/" + "a" * 235  # 255 with /v3
    response = live.send("POST", "/v1.0/vims", body)
    assert response.status_code == 201, response.text
    vim = response.json()["vim"]
    try:
        assert len(vim["auth_url"]) == 255
        listed = live.call("GET", "/v1.0/vims", params={"name": "at-the-limits"}).json()["vims"]
        assert listed[0]["extra"] == body["vim"]["extra"]
        live.listings()
    finally:
        assert live.call("DELETE", f"/v1.0/vims/{vim['id']}").status_code == 204


def test_a_token_with_surrounding_spaces_is_accepted(live: Live) -> None:
    token = live.member["X-Auth-Token"]
    with socket.create_connection(("127.0.0.1", live.server.port), timeout=30) as conn:
        conn.sendall(
            f"GET /v1.0/vims HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token:   {token}  \r\n"
            "Connection: close\r\n\r\n".encode()
        )
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"200", status_line
    listed = live.server.cli("--os-token", f" {token} ", "vim", "list", "-f", "json")
    assert "keeper" in listed.stdout


def test_a_second_vim_of_one_name_in_project_default_is_a_name_conflict(live: Live) -> None:
    with stores_nothing(live):
        response = live.send("POST", "/v1.0/vims", vim_body("keeper"))
        assert response.status_code == 409, response.text
        message = response.json()["TackerError"]["message"]
        assert message == "vim already exist with given ['tenant_id', 'name', 'deleted_at']"


def test_a_second_default_vim_is_still_told_as_such(live: Live) -> None:
    first = live.send("POST", "/v1.0/vims", with_vim({"name": "first", "is_default": True}))
    assert first.status_code == 201, first.text
    first_id = first.json()["vim"]["id"]
    try:
        with stores_nothing(live):
            second = live.send("POST", "/v1.0/vims", with_vim({"name": "two", "is_default": True}))
            assert second.status_code == 409, second.text
            message = second.json()["TackerError"]["message"]
            assert message == f"Default VIM already exists {first_id}."
    finally:
        vim_id = first.json()["vim"]["id"]
        assert live.call("DELETE", f"/v1.0/vims/{vim_id}").status_code == 204


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/v1.0/events?marker=2147483648", "marker"),
        ("/dashboard/api/events?before=2147483648", "before"),
    ],
)
def test_event_numbers_past_the_id_column_are_refused(live: Live, path: str, fragment: str) -> None:
    response = live.call("GET", path)
    refused(response, fragment)
    assert "less than or equal to 2147483647" in response.text


def test_an_event_id_past_the_id_column_is_simply_not_found(live: Live) -> None:
    assert live.call("GET", "/v1.0/events/2147483648").status_code == 404
    listed = live.call("GET", "/v1.0/events", params={"id": "2147483648"})
    assert listed.status_code == 200 and listed.json() == {"events": []}
