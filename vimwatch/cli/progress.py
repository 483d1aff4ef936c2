"""A progress bar for long commands, drawn on a terminal only.

On a terminal the bar redraws one line in place; when stderr is a file or a pipe it draws
nothing, so logs and scripts get only the command's result.
"""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


class ProgressBar:
    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.done = 0
        self._label = label
        self._stream = stream
        self._drawn = stream.isatty() and total > 0
        self._draw()

    def advance(self, count: int = 1) -> None:
        self.done = min(self.total, self.done + count)
        self._draw()

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        if not self._drawn:
            return
        filled = WIDTH * self.done // self.total
        bar = "#" * filled + "-" * (WIDTH - filled)
        self._stream.write(f"\r{self._label} [{bar}] {self.done}/{self.total}")
        self._stream.flush()
