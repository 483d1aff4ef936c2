"""Cost per probe: vimwatch's engine against fping -i 0 and against a thread per VIM.

All three probe the same loopback addresses in the same invocation, so the ratios hold
whatever else the (shared) machine was doing at the time.
"""

from __future__ import annotations

from pathlib import Path

from bench import baselines
from bench.report import Figure, save
from bench.runs import scheduler_load
from bench.targets import loopback_addresses

TARGET_VS_FPING = 1.5
TARGET_VS_THREADS = 100.0


def run(quick: bool, results: Path) -> list[Figure]:
    vims = 500 if quick else 10_000
    seconds = 2.0 if quick else 20.0
    sample = 3 if quick else 20
    addresses = list(loopback_addresses(vims))
    ours = scheduler_load(vims, interval=1.0, seconds=seconds)
    # Steady state: fping's start-up (reading and resolving every target) cancels out.
    fping, fping_short = baselines.fping_steady(addresses)
    threads = baselines.thread_per_vim(addresses[:sample], seconds=2.0 if quick else 10.0)
    cost = ours["cpu_us_per_probe"]
    vs_fping = cost / fping.cpu_us_per_probe
    vs_threads = threads.cpu_us_per_probe / cost
    figures = [
        Figure(
            "cost per probe",
            f"{cost:.1f} µs ({vs_fping:.2f}× fping steady)",
            f"≤ {TARGET_VS_FPING}× fping steady state",
            vs_fping <= TARGET_VS_FPING,
            f"fping -i 0 steady: {fping.cpu_us_per_probe:.1f} µs "
            f"(-c 3 alone, start-up included: {fping_short.cpu_us_per_probe:.1f} µs)",
            {
                "vims": vims,
                "engine": ours,
                "fping_us": fping.cpu_us_per_probe,
                "fping_short_us": fping_short.cpu_us_per_probe,
            },
        ),
        Figure(
            "against the old design",
            f"{vs_threads:.0f}× less CPU per probe",
            f"≥ {TARGET_VS_THREADS:.0f}×",
            vs_threads >= TARGET_VS_THREADS,
            f"thread+ping: {threads.cpu_us_per_probe:.0f} µs ({sample} VIMs sampled)",
            {"sample": sample, "thread_probes": threads.probes, "thread_cpu": threads.cpu_seconds},
        ),
    ]
    save("cost", figures, {}, results)
    return figures
