"""Printing each figure beside its target and its baselines, and saving the run.

Every figure is one `Figure`: what was measured, the target it answers, and whether it
is met, so the printed table and the JSON say the same thing.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")


@dataclass
class Figure:
    name: str
    measured: str
    target: str
    met: bool | None  # None: not measurable here (e.g. no Mistral to compare with)
    baseline: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def print_figures(figures: list[Figure], out: Any = sys.stdout) -> None:
    rows = [("figure", "measured", "target", "baseline (same run)", "met")]
    for figure in figures:
        verdict = {True: "yes", False: "NO", None: "n/a"}[figure.met]
        rows.append((figure.name, figure.measured, figure.target, figure.baseline, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for index, row in enumerate(rows):
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        out.write("\n")
        if index == 0:
            out.write("  ".join("-" * width for width in widths) + "\n")
    out.flush()


def save(name: str, figures: list[Figure], extra: dict[str, Any], results: Path) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.json"
    # The machine is shared: its load says how much of a figure may be other people's work.
    document = {
        "figures": [asdict(figure) for figure in figures],
        "load_average": os.getloadavg(),
        **extra,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
