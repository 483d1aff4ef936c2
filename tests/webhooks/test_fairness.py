"""Free sending slots go round the projects, no receiver holds more than its share, and a
receiver that keeps failing is left alone for a while."""

from __future__ import annotations

from collections import Counter

from vimwatch.webhooks.fairness import (
    COOLDOWN_FIRST,
    COOLDOWN_LONGEST,
    DESTINATION_SLOTS,
    FAILURES_TO_OPEN,
    PROJECT_SLOTS,
    Candidate,
    CircuitBreakers,
    choose,
    destination,
)

HOLE = "http://10.0.0.1:9/hook"


def pick(candidates: list[Candidate], free: int = 32, **kwargs: object) -> list[int]:
    options = {
        "in_flight_projects": Counter(),
        "in_flight_destinations": Counter(),
        "breakers": CircuitBreakers(),
        "now": 0.0,
        **kwargs,
    }
    return choose(candidates, free, **options)  # type: ignore[arg-type]


def test_projects_take_turns_oldest_first_within_each() -> None:
    candidates = [Candidate(n, "a", f"http://a{n}.example/") for n in range(1, 6)]
    candidates += [Candidate(100 + n, "b", f"http://b{n}.example/") for n in range(2)]
    assert pick(candidates, free=4) == [1, 100, 2, 101]


def test_one_project_holds_at_most_its_share_of_slots_however_many_receivers() -> None:
    candidates = [Candidate(n, "a", f"http://a{n}.example/") for n in range(100)]
    assert len(pick(candidates)) == PROJECT_SLOTS
    busy = Counter({"a": PROJECT_SLOTS})
    assert pick(candidates + [Candidate(999, "b", HOLE)], in_flight_projects=busy) == [999]


def test_one_receiver_holds_at_most_its_share_of_slots() -> None:
    candidates = [Candidate(n, f"p{n}", HOLE) for n in range(20)]
    assert len(pick(candidates)) == DESTINATION_SLOTS
    busy = Counter({destination(HOLE): DESTINATION_SLOTS})
    assert pick(candidates, in_flight_destinations=busy) == []


def test_a_failing_receiver_opens_its_circuit_with_a_growing_cooldown() -> None:
    breakers, where = CircuitBreakers(), destination(HOLE)
    for _ in range(FAILURES_TO_OPEN - 1):
        breakers.record(where, False, now=0.0)
    assert breakers.allows(where, 0.0)
    breakers.record(where, False, now=0.0)
    assert not breakers.allows(where, COOLDOWN_FIRST - 1)
    assert pick([Candidate(1, "a", HOLE)], breakers=breakers, now=1.0) == []
    # After the cool-down one trial goes; another failure doubles the wait.
    trial = [Candidate(n, "a", HOLE) for n in range(3)]
    assert pick(trial, breakers=breakers, now=COOLDOWN_FIRST) == [0]
    breakers.record(where, False, now=COOLDOWN_FIRST)
    assert not breakers.allows(where, 3 * COOLDOWN_FIRST - 1)
    assert breakers.allows(where, 3 * COOLDOWN_FIRST)
    for _ in range(20):
        breakers.record(where, False, now=0.0)
    assert breakers.allows(where, COOLDOWN_LONGEST)
    breakers.record(where, True, now=0.0)
    assert len(pick(trial, breakers=breakers)) == 3


def test_destinations_are_told_apart_by_scheme_host_and_port() -> None:
    assert destination("http://h.example/a") == destination("http://h.example/b?x=1")
    assert destination("http://h.example:81/") != destination("http://h.example/")
    assert destination("https://h.example/") != destination("http://h.example/")
