"""The conductor applies each status change once, with its event, and never to a deleted VIM."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.rows import insert_vim
from vimwatch.conductor.status_changes import apply_status_change
from vimwatch.errors import BadRequest
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Event, Vim


def add_vim(registry: Registry, vim_id: str = "v1", status: str = "PENDING") -> None:
    with registry.transaction() as session:
        insert_vim(session, vim_id, status)


def monitor_events(registry: Registry, vim_id: str = "v1") -> list[str]:
    with registry.reading() as session:
        return list(
            session.scalars(
                select(Event.resource_state).where(Event.resource_id == vim_id).order_by(Event.id)
            )
        )


def test_a_change_sets_the_status_and_writes_one_monitor_event(registry: Registry) -> None:
    add_vim(registry)
    assert apply_status_change(registry, "v1", "REACHABLE") == "REACHABLE"
    with registry.reading() as session:
        vim = session.get(Vim, "v1")
        assert vim.status == "REACHABLE" and vim.updated_at is not None
    assert monitor_events(registry) == ["REACHABLE"]


def test_repeating_a_change_is_a_no_op(registry: Registry) -> None:
    add_vim(registry)
    for _ in range(3):
        assert apply_status_change(registry, "v1", "UNREACHABLE") == "UNREACHABLE"
    assert monitor_events(registry) == ["UNREACHABLE"]


def test_deleted_vim_gets_no_status_change(registry: Registry) -> None:
    add_vim(registry)
    with registry.transaction() as session:
        session.get(Vim, "v1").deleted_at = utcnow()
    assert apply_status_change(registry, "v1", "REACHABLE") is None
    assert apply_status_change(registry, "never-existed", "REACHABLE") is None
    assert monitor_events(registry) == []
    assert monitor_events(registry, "never-existed") == []


def test_only_monitor_statuses_are_accepted(registry: Registry) -> None:
    add_vim(registry)
    with pytest.raises(BadRequest):
        apply_status_change(registry, "v1", "PENDING")
