"""Maintenance windows in the registry, on every database: refused input stores nothing,
and the extreme times a caller may give are stored and compared alike everywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.rows import vim_row
from vimwatch.availability.periods import EARLIEST, LATEST
from vimwatch.context import RequestContext, admin_context
from vimwatch.errors import BadRequest, Forbidden, NotFound
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Vim
from vimwatch.services import maintenance
from vimwatch.services.availability import fleet_report

MEMBER = RequestContext(project_id="p")


def _add(registry: Registry, context: RequestContext = MEMBER, **fields: object) -> dict:
    given = {
        "vim_ids": [],
        "project": None,
        "everything": False,
        "start": None,
        "end": utcnow() + timedelta(hours=1),
        "weekly": False,
        "reason": "",
        **fields,
    }
    return maintenance.add(registry, context, **given)


def test_refused_windows_store_nothing(registry: Registry) -> None:
    with registry.transaction() as session:
        session.add(Vim(**vim_row("v1", tenant="p")))
        session.add(Vim(**vim_row("v2", tenant="q")))
    now = utcnow()
    refusals = [
        (BadRequest, {}),
        (BadRequest, {"vim_ids": ["v1"], "project": "p"}),
        (BadRequest, {"project": "p", "start": now - timedelta(hours=1)}),
        (BadRequest, {"project": "p", "end": now - timedelta(hours=1)}),
        (BadRequest, {"project": "p", "weekly": True, "end": now + timedelta(days=8)}),
        (Forbidden, {"everything": True}),
        (Forbidden, {"project": "q"}),
        (NotFound, {"vim_ids": ["v1", "v2"]}),
    ]
    for error, fields in refusals:
        with pytest.raises(error):
            _add(registry, **fields)
    assert maintenance.list_windows(registry, admin_context()) == []
    made = _add(registry, vim_ids=["v1"], end=LATEST)
    assert made["target_project"] == "p" and made["in_force"]
    assert [w["id"] for w in maintenance.list_windows(registry, MEMBER)] == [made["id"]]
    maintenance.delete(registry, MEMBER, made["id"])
    assert maintenance.list_windows(registry, MEMBER) == []
    with pytest.raises(NotFound):
        maintenance.delete(registry, MEMBER, made["id"])


def test_a_report_may_reach_back_to_the_earliest_time_a_caller_may_give(
    registry: Registry,
) -> None:
    report = fleet_report(registry, admin_context(), EARLIEST, utcnow(), limit=10)
    assert report["total"]["vims"] == 0 and report["total"]["ratio"] is None
