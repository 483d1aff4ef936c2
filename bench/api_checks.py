"""`python -m bench apichecks`: reachability and API checks together, at fleet scale.

Two runs of bench.api_checks_load, each in a process of its own: 10,000 loopback VIMs
probed over ICMP every second, first alone (the baseline), then each with its API check
every 60 s (half keystone, half kubernetes) against one loopback HTTPS server standing for
all the clouds (bench.api_doubles, in a third process). Tokens live 150 s there, so every
VIM renews its token once in the measured window: the logins counted are the renewals.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.report import Figure, save

MARGIN = 70.0  # the check renews a token this long before expiry: interval + timeout


def _load(*args: str) -> dict:
    command = [sys.executable, "-m", "bench.api_checks_load", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool, results: Path) -> list[Figure]:
    vims, interval, settle, seconds, lifetime = (
        (500, 5.0, 8.0, 12.0, 30.0) if quick else (10_000, 60.0, 65.0, 120.0, 150.0)
    )
    common = ["--vims", str(vims), "--settle", str(settle), "--seconds", str(seconds)]
    doubles = subprocess.Popen(
        [sys.executable, "-m", "bench.api_doubles", "--lifetime", str(lifetime)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        served = json.loads(doubles.stdout.readline())
        base = _load(*common)
        api = _load(
            *common,
            "--api",
            "--port",
            str(served["port"]),
            "--ca-file",
            served["ca_file"],
            "--api-interval",
            str(interval),
        )
    finally:
        doubles.terminate()
        doubles.wait(10)
    extra_cpu = (api["cpu_cores"] - base["cpu_cores"]) * api["seconds"]
    per_check_ms = extra_cpu / max(api["api_checks"], 1) * 1000
    per_minute = api["api_logins_in_window"] / (api["seconds"] / 60)
    # First logins plus at most one renewal per VIM per (lifetime - margin) seconds.
    elapsed = settle + api["seconds"]
    allowed = vims * (1 + int(elapsed // (lifetime - (interval + 10.0))))
    double = api["double"]
    figures = [
        Figure(
            "API check CPU",
            f"{per_check_ms:.2f} ms of engine CPU per API check "
            f"({api['api_checks']:,} checks in {api['seconds']:.0f} s, "
            f"{api['cpu_cores']:.2f} core with ICMP)",
            "(no target: reported)",
            None,
            f"ICMP alone: {base['cpu_cores']:.2f} core",
        ),
        Figure(
            "API logins",
            f"{per_minute:,.0f} logins/min in the window; {api['api_logins_total']:,} logins "
            f"in all for {vims:,} VIMs over {elapsed:.0f} s (the double counted "
            f"{double['logins']:,}, refused {double['refused']})",
            f"only first logins and token renewals: ≤ {allowed:,}",
            # Logins cut short by a timeout are counted as sent but may never reach the
            # double, so it may count fewer than were sent, never more.
            api["api_logins_total"] <= allowed
            and double["logins"] <= api["api_logins_total"]
            and double["refused"] == 0,
            f"{double['validations'] + double['readyz']:,} checks without a login",
        ),
        Figure(
            "memory per VIM",
            f"{api['rss_bytes_per_vim']:,.0f} B per VIM with its API check",
            "(no target: reported)",
            None,
            f"ICMP alone: {base['rss_bytes_per_vim']:,.0f} B",
        ),
        Figure(
            "ICMP slip p99 during API checks",
            f"{api['slip_p99'] * 1000:.1f} ms (p50 {api['slip_p50'] * 1000:.1f} ms), "
            f"{api['api_checks_failed']} API checks failed {api['failing_at_end'] or ''}",
            "< 100 ms",
            api["slip_p99"] < 0.1,
            f"ICMP alone: p99 {base['slip_p99'] * 1000:.1f} ms",
        ),
    ]
    save("apichecks", figures, {"baseline": base, "with_api": api}, results)
    return figures
