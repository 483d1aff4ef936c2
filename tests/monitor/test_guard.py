"""The isolation guard tells 'my own network is down' from 'some VIMs are down'."""

from __future__ import annotations

from vimwatch.monitor.guard import IsolationGuard
from vimwatch.monitor.probes.base import ProbeResult

OK = ProbeResult(True, 0.001, "")
LOST = ProbeResult(False, None, "timeout")


def feed(guard: IsolationGuard, ok: int, lost: int) -> None:
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
    assert guard.failure_ratio(monitors=20) == 14 / 20
    assert not guard.isolated(monitors=20)
