import pytest

from vimwatch.contract import PENDING, REACHABLE, UNREACHABLE
from vimwatch.monitor.status import StatusTracker


def observe_all(tracker: StatusTracker, results: str) -> list[str | None]:
    """Feed results written as a string: "+" a success, "-" a failure."""
    return [tracker.observe(char == "+") for char in results]


def test_first_success_turns_pending_into_reachable() -> None:
    tracker = StatusTracker()
    assert tracker.status == PENDING
    assert tracker.observe(True) == REACHABLE


def test_pending_becomes_unreachable_only_after_down_after_failures() -> None:
    tracker = StatusTracker(down_after=3)
    assert observe_all(tracker, "---") == [None, None, UNREACHABLE]


def test_one_lost_probe_is_not_an_outage() -> None:
    tracker = StatusTracker(REACHABLE, down_after=3)
    assert observe_all(tracker, "+-+--+-+") == [None] * 8


def test_down_after_counts_consecutive_failures_only() -> None:
    tracker = StatusTracker(REACHABLE, down_after=3)
    assert observe_all(tracker, "--+--") == [None] * 5
    assert tracker.observe(False) == UNREACHABLE


def test_up_after_counts_consecutive_successes_only() -> None:
    tracker = StatusTracker(UNREACHABLE, up_after=2)
    assert observe_all(tracker, "+-+") == [None, None, None]
    assert tracker.observe(True) == REACHABLE


def test_observe_proposes_but_does_not_change_the_status() -> None:
    tracker = StatusTracker(REACHABLE, down_after=1)
    assert tracker.observe(False) == UNREACHABLE
    assert tracker.status == REACHABLE


def test_unsettled_change_is_proposed_again_so_a_failed_report_is_retried() -> None:
    tracker = StatusTracker(REACHABLE, down_after=2)
    assert observe_all(tracker, "----") == [None, UNREACHABLE, UNREACHABLE, UNREACHABLE]
    tracker.settle(UNREACHABLE)
    assert tracker.observe(False) is None


def test_settled_status_is_not_proposed_again() -> None:
    tracker = StatusTracker()
    assert tracker.observe(True) == REACHABLE
    tracker.settle(REACHABLE)
    assert observe_all(tracker, "+++") == [None, None, None]
    assert tracker.status == REACHABLE


def test_settle_adopts_what_the_conductor_applied_even_if_not_wanted() -> None:
    tracker = StatusTracker(REACHABLE, down_after=1)
    assert tracker.observe(False) == UNREACHABLE
    tracker.settle(PENDING)
    assert tracker.status == PENDING
    assert tracker.wanted() == UNREACHABLE


def test_wanted_reflects_results_seen_while_a_report_was_in_flight() -> None:
    tracker = StatusTracker(PENDING, down_after=1)
    assert tracker.observe(False) == UNREACHABLE
    tracker.observe(True)
    tracker.settle(UNREACHABLE)
    assert tracker.wanted() == REACHABLE


def test_long_streaks_keep_the_tracker_responsive() -> None:
    tracker = StatusTracker(REACHABLE, down_after=2)
    observe_all(tracker, "+" * 10_000)
    assert observe_all(tracker, "--") == [None, UNREACHABLE]


@pytest.mark.parametrize(("down_after", "up_after"), [(0, 1), (1, 0), (-1, 1)])
def test_thresholds_below_one_are_rejected(down_after: int, up_after: int) -> None:
    with pytest.raises(ValueError):
        StatusTracker(down_after=down_after, up_after=up_after)
