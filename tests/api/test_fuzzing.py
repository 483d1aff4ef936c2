"""Every route of the OpenAPI document fuzzed against a live server, in both auth modes.

Nothing may answer 5xx or break the documented schema, and a request answered 4xx must not
have changed anything: the rows of every table are compared around it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.service import Server

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
TABLES = ("vims", "events", "workflows", "executions", "tasks", "api_tokens", "webhooks")


@pytest.fixture(scope="module", params=["noauth", "token"])
def live(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[tuple[Server, dict]]:  # noqa: ANN001
    state = tmp_path_factory.mktemp(request.param) / "state"
    server = Server(state, env={"VIMWATCH_AUTH": request.param, "VIMWATCH_VALIDATE_VIMS": "false"})
    headers = {}
    if request.param == "token":
        token = server.cli("token", "create", "--project", "fuzz").stdout.split()[-1]
        headers = {"X-Auth-Token": token}
    server.start()
    try:
        yield server, headers
    finally:
        server.stop()


def snapshot(state_dir: Path) -> dict[str, int]:
    with sqlite3.connect(state_dir / "vimwatch.db") as db:
        present = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        return {
            table: db.execute(
                f"SELECT count(*), total(length(quote(t.rowid))) FROM {table} t"
            ).fetchone()[0]
            for table in TABLES
            if table in present
        } | {
            "vim_rows": db.execute(
                "SELECT group_concat(id || name || status || coalesce(deleted_at, '')) FROM vims"
            ).fetchone()[0]
        }


def test_no_input_breaks_the_api_or_changes_state_when_refused(live) -> None:  # noqa: ANN001
    server, headers = live
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
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case) -> None:  # noqa: ANN001
            before = snapshot(server.state_dir)
            response = case.call(base_url=server.url, headers=headers, timeout=30)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            case.validate_response(response, checks=CHECKS)
            if 400 <= response.status_code < 500:
                assert snapshot(server.state_dir) == before, (case.method, response.text)

        exercise()
