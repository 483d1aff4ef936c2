"""Capacity: slip and CPU against the number of VIMs, at 1 s and at 10 s; and memory.

Each point is a fresh engine-sized process (bench.scheduler_load) holding that many
loopback VIMs; the curve shows where slip starts to climb, not only whether the two
target points pass.
"""

from __future__ import annotations

from pathlib import Path

from bench.report import Figure, save
from bench.runs import scheduler_load

SLIP_P99 = 0.100
CORES = 1.0
BYTES_PER_VIM = 1024


def _points(quick: bool) -> list[tuple[int, float, float]]:
    """(VIMs, interval, seconds measured) per run, smallest first."""
    if quick:
        return [(200, 1.0, 1.5), (500, 1.0, 1.5), (1000, 2.0, 2.5)]
    return [
        (10_000, 1.0, 15.0),
        (25_000, 1.0, 15.0),
        (50_000, 1.0, 15.0),
        (100_000, 1.0, 20.0),
        (250_000, 10.0, 30.0),
        (500_000, 10.0, 30.0),
        (1_000_000, 10.0, 30.0),
    ]


def _settle(interval: float, quick: bool) -> float:
    """Seconds left for the loop to catch up before measuring: the full collection the
    memory reading makes pauses it (1 s at a million VIMs), and slip is a figure of the
    steady state. One and a half intervals, at least 5 s."""
    return 0.0 if quick else max(5.0, 1.5 * interval)


def _meets(point: dict) -> bool:
    return point["slip_p99"] < SLIP_P99 and point["cpu_cores"] < CORES


def _describe(point: dict) -> str:
    return (
        f"slip p99 {point['slip_p99'] * 1000:.0f} ms, {point['cpu_cores']:.2f} core, "
        f"{point['lost_fraction']:.2%} lost"
    )


def run(quick: bool, results: Path) -> list[Figure]:
    points = [
        scheduler_load(vims, interval, seconds, settle=_settle(interval, quick))
        for vims, interval, seconds in _points(quick)
    ]
    figures = []
    for interval in sorted({p["interval"] for p in points}):
        largest = max((p for p in points if p["interval"] == interval), key=lambda p: p["vims"])
        figures.append(
            Figure(
                f"capacity {largest['vims']:,} @ {interval:g} s",
                _describe(largest),
                f"slip p99 < {SLIP_P99 * 1000:.0f} ms, < {CORES:g} core",
                _meets(largest),
                details=largest,
            )
        )
    biggest = max(points, key=lambda p: p["vims"])
    figures.append(
        Figure(
            "memory",
            f"{biggest['rss_bytes_per_vim']:.0f} B/VIM at {biggest['vims']:,} VIMs",
            f"< {BYTES_PER_VIM} B/VIM",
            biggest["rss_bytes_per_vim"] < BYTES_PER_VIM,
        )
    )
    save("capacity", figures, {"points": points}, results)
    _plot(points, results / "capacity.png")
    return figures


def _plot(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (slip_axis, cpu_axis) = pyplot.subplots(1, 2, figsize=(11, 4))
    for interval in sorted({p["interval"] for p in points}):
        series = sorted((p for p in points if p["interval"] == interval), key=lambda p: p["vims"])
        vims = [p["vims"] for p in series]
        label = f"interval {interval:g} s"
        slip_axis.plot(vims, [p["slip_p99"] * 1000 for p in series], "o-", label=label)
        cpu_axis.plot(vims, [p["cpu_cores"] for p in series], "o-", label=label)
    slip_axis.axhline(SLIP_P99 * 1000, color="red", linestyle="--", label="target")
    cpu_axis.axhline(CORES, color="red", linestyle="--", label="target")
    for axis, title in ((slip_axis, "schedule slip p99 (ms)"), (cpu_axis, "CPU (cores)")):
        axis.set_xscale("log")
        axis.set_xlabel("monitored VIMs (one engine process)")
        axis.set_title(title)
        axis.legend()
        axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
