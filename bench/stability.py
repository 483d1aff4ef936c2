"""Stability: 1,000 VIMs behind a link that drops 5 % of packets at random, for ten
minutes, with the default thresholds: how many turn UNREACHABLE though they are up?

With one echo per interval and independent losses, down_after=3 trips when three probes
in a row are lost, with probability 0.05^3 per probe: the run prints that expectation
beside the count, so a non-zero count can be told apart from a fault.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.outage import outage_setting
from bench.report import Figure, save
from vimwatch.registry.database import utcnow

INTERVAL, DOWN_AFTER, LOSS = 1.0, 3, 0.05


def run(quick: bool, results: Path) -> list[Figure]:
    vims = 50 if quick else 1000
    seconds = 5.0 if quick else 600.0
    with outage_setting(0, vims, INTERVAL) as outage:
        began = utcnow()
        outage.host.lossy(LOSS * 100)
        time.sleep(seconds)
        outage.host.clear()
        alarms = outage.changes("UNREACHABLE", began)
    probes = vims * seconds / INTERVAL
    expected = probes * (1 - LOSS) * LOSS**DOWN_AFTER
    figure = Figure(
        "stability (5 % loss)",
        f"{len(alarms)} false UNREACHABLE in {seconds / 60:.0f} min for {vims:,} VIMs",
        "0",
        not alarms,
        f"expected with independent loss: {expected:.1f}",
        {"vims": vims, "seconds": seconds, "false_unreachable": len(alarms)},
    )
    save("stability", [figure], {"expected_by_chance": expected}, results)
    return [figure]
