"""Every route of the OpenAPI document fuzzed against a live server, on each database.

Nothing may answer 5xx or break the documented schema, and a request answered 4xx must not
have changed anything: the rows of every table are compared around it. Schemathesis draws
from the schema (up to 20 examples for each of 25 operations, so up to 500 requests a
setup); a second run (100 examples a setup) sends the inputs that broke PostgreSQL and
MariaDB before (NUL characters, NaN and Infinity, JSON nested around the depth limit,
strings just around their length limits) to every route that takes them. One to three
minutes in all, with the machine quiet or busy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, create_engine, text

from tests.api.test_inputs import nested
from tests.databases import scratch_database
from tests.service import Server, vim_body
from vimwatch.services.storable import MAX_JSON_BYTES, MAX_JSON_DEPTH

# What the API promises: no 5xx, answers as documented, invalid input refused. (Whether
# every schema-valid body is accepted is not among them: a VIM's credentials depend on its
# type in ways the schema does not spell out.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
TABLES = (
    "vims",
    "events",
    "workflows",
    "executions",
    "tasks",
    "api_tokens",
    "webhooks",
    "maintenance_windows",
)
# Each database once, and the token mode's project scoping on each; SQLite also in noauth.
SETUPS = [("sqlite", "noauth"), ("sqlite", "token"), ("postgresql", "token"), ("mariadb", "token")]
FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", params=SETUPS, ids=["-".join(setup) for setup in SETUPS])
def live(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[tuple[Server, dict, Engine]]:  # noqa: ANN001
    kind, auth = request.param
    tmp = tmp_path_factory.mktemp(f"{kind}-{auth}")
    with scratch_database(kind, tmp) as url:
        env = {"VIMWATCH_AUTH": auth, "VIMWATCH_VALIDATE_VIMS": "false"}
        if kind == "sqlite":
            url = f"sqlite:///{tmp / 'state' / 'vimwatch.db'}"
        else:
            env["VIMWATCH_DATABASE_URL"] = url
        server = Server(tmp / "state", env=env)
        headers = {}
        if auth == "token":
            token = server.cli("token", "create", "--project", "fuzz").stdout.split()[-1]
            headers = {"X-Auth-Token": token}
        server.start()
        db_engine = create_engine(url)
        try:
            yield server, headers, db_engine
        finally:
            db_engine.dispose()
            server.stop()


def snapshot(db_engine: Engine) -> dict[str, Any]:
    """What requests write; the monitor's own writes (statuses, MONITOR events) left out,
    since they land whenever a probe answers, refused request or not."""
    with db_engine.connect() as db:
        counts = {t: db.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}
        counts["events"] = db.execute(
            text("SELECT count(*) FROM events WHERE event_type <> 'MONITOR'")
        ).scalar()
        vims = db.execute(text("SELECT id, name, deleted_at FROM vims ORDER BY id"))
        return counts | {"vim_rows": [tuple(map(str, row)) for row in vims]}


def test_no_input_breaks_the_api_or_changes_state_when_refused(live) -> None:  # noqa: ANN001
    server, headers, db_engine = live
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    # The live event stream never ends by design; it has tests of its own.
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if not operation.path.endswith("/stream")
    ]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(FUZZ_SETTINGS, max_examples=20)
        def exercise(case) -> None:  # noqa: ANN001
            before = snapshot(db_engine)
            response = case.call(base_url=server.url, headers=headers, timeout=30)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            case.validate_response(response, checks=CHECKS)
            if 400 <= response.status_code < 500:
                assert snapshot(db_engine) == before, (case.method, response.text)

        exercise()


_NUL_TEXT = st.tuples(st.text(max_size=8), st.text(max_size=8)).map("\x00".join)
_NEAR_LIMITS = st.sampled_from([63, 64, 65, 254, 255, 256, 1023, 1024, 1025, 4095, 4096, 4097])
NASTY_TEXT = st.one_of(_NUL_TEXT, _NEAR_LIMITS.map(lambda n: "n" * n))
NASTY_JSON = st.one_of(
    NASTY_TEXT,
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH + 2).map(nested),
    st.sampled_from([100, 300]).map(nested),
    st.integers(MAX_JSON_BYTES - 20, MAX_JSON_BYTES + 5).map(lambda n: "j" * n),
)
_TEXT_FIELDS = ["name", "description", "auth_url", "tenant_id"]
_JSON_FIELDS = ["extra", "auth_cred", "vim_project"]


@st.composite
def nasty_requests(draw: st.DrawFn, keeper: str) -> tuple[str, str, Any]:
    """(method, path, JSON body or None) with one nasty value where an input goes."""
    vim = vim_body("nasty")["vim"]
    route = draw(st.sampled_from(["register", "import", "update", "webhook", "path", "query"]))
    if route in ("register", "import", "update"):
        field = draw(st.sampled_from(_TEXT_FIELDS + _JSON_FIELDS))
        if field in _TEXT_FIELDS:
            vim[field] = draw(NASTY_TEXT)
        else:
            vim[field] = {**vim[field], draw(st.one_of(st.just("k"), _NUL_TEXT)): draw(NASTY_JSON)}
        if route == "register":
            return "POST", "/v1.0/vims", {"vim": vim}
        if route == "import":
            return "POST", "/v1.0/vims/import", {"vims": [vim]}
        # auth_url and tenant_id are read-only: their nasty value goes in the description.
        updatable = field if field in ("name", "description", *_JSON_FIELDS) else "description"
        return "PUT", f"/v1.0/vims/{keeper}", {"vim": {updatable: vim[field]}}
    if route == "webhook":
        webhook = {"url": "http://127.0.0.1:9/hook", "secret": "s"}
        webhook[draw(st.sampled_from(["url", "secret", "project_id"]))] = draw(NASTY_TEXT)
        return "POST", "/v1.0/webhooks", {"webhook": webhook}
    value = quote(draw(NASTY_TEXT), safe="")
    if route == "path":
        template = draw(
            st.sampled_from(
                [
                    "/v1.0/vims/{}",
                    "/v1.0/events/{}",
                    "/v1.0/webhooks/{}",
                    "/v2/workflows/{}",
                    "/v2/executions/{}",
                    "/v2/executions/{}/tasks",
                    "/v2/tasks/{}",
                ]
            )
        )
        return draw(st.sampled_from(["GET", "DELETE"])), template.format(value), None
    key = draw(st.sampled_from(["name", "marker", "id", "created_at", "state", "resource_id"]))
    path = draw(st.sampled_from(["/v1.0/vims", "/v1.0/events", "/v2/workflows", "/v2/tasks"]))
    operator = draw(st.sampled_from(["", "gt:", "in:", "has:"]))
    return "GET", f"{path}?{key}={quote(operator)}{value}", None


def test_nasty_inputs_are_refused_without_a_server_error_or_a_write(live) -> None:  # noqa: ANN001
    server, headers, db_engine = live
    kept = server.api("POST", "/v1.0/vims", json=vim_body("nasty-keeper"), headers=headers)
    assert kept.status_code == 201, kept.text
    keeper = kept.json()["vim"]["id"]

    @given(request=nasty_requests(keeper))
    @settings(FUZZ_SETTINGS, max_examples=100)
    def exercise(request: tuple[str, str, Any]) -> None:
        method, path, body = request
        before = snapshot(db_engine)
        sent = {
            "content": json.dumps(body),
            "headers": {**headers, "Content-Type": "application/json"},
        }
        response = server.api(method, path, **(sent if body is not None else {"headers": headers}))
        assert response.status_code < 500, (method, path, response.text)
        if 400 <= response.status_code < 500:
            assert snapshot(db_engine) == before, (method, path, response.text)
            assert response.json(), response.text

    exercise()
