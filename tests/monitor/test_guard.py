"""The isolation guard tells 'my own network is down' from 'some VIMs are down'."""

from __future__ import annotations

from vimwatch.monitor.guard import IsolationGuard
from vimwatch.monitor.probes.base import ProbeResult

OK = ProbeResult(True, 0.001, "")
LOST = ProbeResult(False, None, "timeout")


def feed(guard: IsolationGuard, ok: int, lost: int) -> None:
    for n in range(ok + lost):
        guard.watch(f"v{n}")
    for n in range(ok):
        guard.observe(f"v{n}", OK)
    for n in range(ok, ok + lost):
        guard.observe(f"v{n}", LOST)


def test_nearly_every_vim_failing_at_once_means_isolated() -> None:
    guard = IsolationGuard(threshold=0.9, min_monitors=10)
    feed(guard, ok=2, lost=48)
    assert guard.isolated(monitors=50)


def test_a_share_of_vims_down_is_not_isolation() -> None:
    guard = IsolationGuard(threshold=0.9, min_monitors=10)
    feed(guard, ok=25, lost=25)
    assert not guard.isolated(monitors=50)


def test_a_small_fleet_all_down_is_believed() -> None:
    guard = IsolationGuard(threshold=0.9, min_monitors=10)
    feed(guard, ok=0, lost=9)
    assert not guard.isolated(monitors=9)


def test_a_vim_answering_again_or_removed_no_longer_counts() -> None:
    guard = IsolationGuard(threshold=0.9, min_monitors=10)
    feed(guard, ok=0, lost=20)
    for n in range(5):
        guard.observe(f"v{n}", OK)
    guard.forget("v5")
    assert guard.failure_ratio() == 14 / 19
    assert not guard.isolated(monitors=20)


def owned_guard(owners: dict[str, str]) -> IsolationGuard:
    guard = IsolationGuard(owner_of=owners.get, threshold=0.9, min_monitors=10)
    for vim_id in owners:
        guard.watch(vim_id)
    return guard


def test_one_project_failing_wholesale_cannot_make_the_engine_look_isolated() -> None:
    owners = {f"a{n}": "project-a" for n in range(400)} | {f"b{n}": "project-b" for n in range(5)}
    guard = owned_guard(owners)
    for n in range(400):
        guard.observe(f"a{n}", LOST)
    guard.observe("b0", LOST)
    assert guard.failure_ratio() == (1.0 + 1 / 5) / 2
    assert not guard.isolated(monitors=405)


def test_two_projects_failing_together_are_believed_as_two_outages() -> None:
    owners = {f"a{n}": "project-a" for n in range(400)} | {"b0": "project-b"}
    guard = owned_guard(owners)
    for vim_id in owners:
        guard.observe(vim_id, LOST)
    assert guard.failure_ratio() == 1.0
    assert not guard.isolated(monitors=401)


def test_three_or_more_projects_failing_at_once_is_isolation() -> None:
    owners = {f"{p}{n}": f"project-{p}" for p in "abc" for n in range(5)}
    guard = owned_guard(owners)
    for vim_id in owners:
        guard.observe(vim_id, LOST)
    assert guard.isolated(monitors=15)
    for n in range(3):
        guard.observe(f"c{n}", OK)
    guard.forget("c4")
    assert not guard.isolated(monitors=14)


def test_a_vim_the_guard_no_longer_knows_is_not_counted() -> None:
    guard = owned_guard({f"v{n}": "p" for n in range(10)})
    guard.observe("gone", LOST)
    assert guard.failure_ratio() == 0.0
