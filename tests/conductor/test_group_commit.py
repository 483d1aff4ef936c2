"""A burst of status changes is applied in a few transactions, each caller answered alone."""

from __future__ import annotations

import asyncio
import threading
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
        *(conductor.update_vims([[f"v{n}", "UNREACHABLE", False]]) for n in range(50)),
        conductor.update_vims([[f"v{n}", "UNREACHABLE", False] for n in range(50, 60)]),
        conductor.update_vims([["deleted-meanwhile", "REACHABLE", False]]),
    )
    assert answers == [["UNREACHABLE"]] * 50 + [["UNREACHABLE"] * 10, [None]]
    assert counted[0] <= 3
    assert all(monitor_events(registry, f"v{n}") == ["UNREACHABLE"] for n in range(60))


async def test_a_bad_change_fails_only_its_own_call_and_applies_nothing_of_it(
    registry: Registry,
) -> None:
    add_vim(registry, "good")
    add_vim(registry, "other")
    conductor = ConductorEndpoint(registry)
    results = await asyncio.gather(
        conductor.update_vims([["good", "REACHABLE", False]]),
        conductor.update_vims([["other", "REACHABLE", False], ["good", "SIDEWAYS", False]]),
        return_exceptions=True,
    )
    assert results[0] == ["REACHABLE"]
    assert isinstance(results[1], BadRequest)
    assert monitor_events(registry, "other") == []


@pytest.mark.parametrize(
    "changes",
    [None, "v1", [["v1", "REACHABLE"]], [["v1", "REACHABLE", "no"]], [[1, "REACHABLE", False]]],
)
async def test_a_malformed_report_is_refused_whole(registry: Registry, changes: object) -> None:
    add_vim(registry, "v1")
    with pytest.raises(BadRequest):
        await ConductorEndpoint(registry).update_vims(changes)
    assert monitor_events(registry, "v1") == []


async def test_a_change_whose_caller_gave_up_before_its_turn_is_dropped_not_applied(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("first", "abandoned", "awaited"):
        add_vim(registry, name)
    release = threading.Event()
    original = registry.transaction

    @contextmanager
    def held():  # noqa: ANN202 - the first commit waits until the test lets it go
        release.wait(30)
        with original() as session:
            yield session

    monkeypatch.setattr(registry, "transaction", held)
    conductor = ConductorEndpoint(registry)
    first = asyncio.create_task(conductor.update_vims([["first", "REACHABLE", False]]))
    await asyncio.sleep(0)  # the first change's commit is under way, and held
    abandoned = asyncio.create_task(conductor.update_vims([["abandoned", "REACHABLE", False]]))
    awaited = asyncio.create_task(conductor.update_vims([["awaited", "REACHABLE", False]]))
    await asyncio.sleep(0)
    abandoned.cancel()  # what a call timeout does to the caller's wait
    release.set()
    assert await first == ["REACHABLE"]
    assert await awaited == ["REACHABLE"]
    assert monitor_events(registry, "abandoned") == []
    assert conductor._changes._queued == []
