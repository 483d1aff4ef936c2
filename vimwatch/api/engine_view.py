"""What the api asks of the embedded default's engine process, and how it is told no.

The api only reads the engine's figures (monitor count, isolation, recent probes); the
process that hosts the engine (vimwatch.roles) answers them. Defined here, below the
roles, so that the routes need nothing of how the engine process is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vimwatch.metrics.probes import RecentProbe


class NoAnswer(Exception):
    """The engine process did not answer in time, or is gone."""


@dataclass(frozen=True)
class EngineStatus:
    monitors: int
    isolated: bool


class EngineView(Protocol):
    def status(self, timeout: float = 0.5) -> EngineStatus:
        """From a worker thread; NoAnswer says why there is none."""
        ...

    def recent(self, vim_ids: list[str], timeout: float = 1.0) -> dict[str, list[RecentProbe]]:
        """The latest probe results of these VIMs; none while the engine does not answer."""
        ...
