"""A burst of status changes is applied in a few transactions, each caller answered alone."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager

import pytest

from tests.conductor.test_status_changes import add_vim, monitor_events
from vimwatch.conductor.status_changes import ConductorEndpoint
from vimwatch.errors import BadRequest
from vimwatch.registry.database import Registry


@pytest.fixture
def counted(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    transactions = [0]
    original = registry.transaction

    @contextmanager
    def counting():  # noqa: ANN202
        transactions[0] += 1
        with original() as session:
            yield session

    monkeypatch.setattr(registry, "transaction", counting)
    return transactions


async def test_a_burst_of_changes_shares_transactions_and_each_call_gets_its_answer(
    registry: Registry, counted: list[int]
) -> None:
    for n in range(60):
        add_vim(registry, f"v{n}")
    counted[0] = 0
    conductor = ConductorEndpoint(registry)
    answers = await asyncio.gather(
        *(conductor.update_vim(f"v{n}", "UNREACHABLE") for n in range(60)),
        conductor.update_vim("deleted-meanwhile", "REACHABLE"),
    )
    assert answers == ["UNREACHABLE"] * 60 + [None]
    assert counted[0] <= 3
    assert all(monitor_events(registry, f"v{n}") == ["UNREACHABLE"] for n in range(60))


async def test_a_bad_change_fails_only_its_own_call(registry: Registry) -> None:
    add_vim(registry, "good")
    conductor = ConductorEndpoint(registry)
    results = await asyncio.gather(
        conductor.update_vim("good", "REACHABLE"),
        conductor.update_vim("good", "SIDEWAYS"),
        return_exceptions=True,
    )
    assert results[0] == "REACHABLE"
    assert isinstance(results[1], BadRequest)
