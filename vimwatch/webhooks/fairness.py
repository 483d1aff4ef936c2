"""Which due deliveries a worker sends next, so that no project or receiver starves another.

One project's receiver that never answers must not delay another project's delivery by
more than a poll or two. Three rules give that:
- slots are shared round-robin across projects, and one project holds at most
  PROJECT_SLOTS of them at once, however many webhooks it adds;
- one destination (scheme, host and port) holds at most DESTINATION_SLOTS, so a
  black-hole receiver ties up a few slots for one send timeout, not all of them;
- a destination that keeps not answering (timeouts, refused or failed connections; an
  error status is an answer) has its circuit opened: nothing is sent to it for a
  cool-down that doubles while it fails (up to COOLDOWN_LONGEST), then one trial
  delivery decides whether it closes again. Deliveries held back meanwhile stay due,
  and are still given up only by age, as any other.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

PROJECT_SLOTS = 8
DESTINATION_SLOTS = 4
FAILURES_TO_OPEN = 3
COOLDOWN_FIRST = 10.0
COOLDOWN_LONGEST = 300.0


@dataclass(frozen=True)
class Candidate:
    delivery_id: int
    project_id: str
    url: str


def destination(url: str) -> str:
    """Where a delivery goes, as a circuit sees it: scheme, host and port."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"
    except ValueError:
        return url


class CircuitBreakers:
    """Per-destination circuits, kept by one worker: the evidence is its own attempts."""

    def __init__(self) -> None:
        self._failures: Counter[str] = Counter()
        self._open_until: dict[str, float] = {}
        self._cooldown: dict[str, float] = {}

    def allows(self, where: str, now: float) -> bool:
        return self._open_until.get(where, 0.0) <= now

    def on_trial(self, where: str) -> bool:
        """Whether the circuit has opened before: then one delivery at a time tries it."""
        return where in self._cooldown

    def record(self, where: str, answered: bool, now: float) -> None:
        """An attempt's outcome: whether the destination answered at all, in time."""
        if answered:
            self._failures.pop(where, None)
            self._open_until.pop(where, None)
            self._cooldown.pop(where, None)
            return
        self._failures[where] += 1
        if self._failures[where] >= FAILURES_TO_OPEN or where in self._cooldown:
            cooldown = min(self._cooldown.get(where, COOLDOWN_FIRST / 2) * 2, COOLDOWN_LONGEST)
            self._cooldown[where] = cooldown
            self._open_until[where] = now + cooldown


def choose(
    candidates: Iterable[Candidate],
    free: int,
    in_flight_projects: Counter[str],
    in_flight_destinations: Counter[str],
    breakers: CircuitBreakers,
    now: float,
) -> list[int]:
    """Up to `free` delivery ids, oldest first within a project, projects in turn."""
    queues: dict[str, deque[Candidate]] = {}
    for candidate in sorted(candidates, key=lambda c: c.delivery_id):
        queues.setdefault(candidate.project_id, deque()).append(candidate)
    projects, destinations = Counter(in_flight_projects), Counter(in_flight_destinations)
    chosen: list[int] = []
    while len(chosen) < free and queues:
        for project_id in list(queues):
            queue = queues[project_id]
            picked = _next_sendable(queue, project_id, projects, destinations, breakers, now)
            if picked is None:
                del queues[project_id]
                continue
            where = destination(picked.url)
            projects[project_id] += 1
            destinations[where] += 1
            chosen.append(picked.delivery_id)
            if len(chosen) == free:
                break
    return chosen


def _next_sendable(
    queue: deque[Candidate],
    project_id: str,
    projects: Counter[str],
    destinations: Counter[str],
    breakers: CircuitBreakers,
    now: float,
) -> Candidate | None:
    """Take the project's oldest delivery that may go now (None: none can this round)."""
    if projects[project_id] >= PROJECT_SLOTS:
        return None
    while queue:
        candidate = queue.popleft()
        where = destination(candidate.url)
        cap = 1 if breakers.on_trial(where) else DESTINATION_SLOTS
        if breakers.allows(where, now) and destinations[where] < cap:
            return candidate
    return None
