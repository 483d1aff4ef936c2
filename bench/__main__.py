"""`python -m bench FIGURE... [--quick]`: run benchmarks and print each figure beside its
target and its same-run baselines; JSON and PNG results go to bench/results/."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import traceback
from pathlib import Path

from bench.report import RESULTS, Figure, print_figures

BENCHES = {
    "cost": "bench.cost",
    "capacity": "bench.capacity",
    "detection": "bench.detection",
    "registration": "bench.registration",
    "api": "bench.api_scale",
    "stability": "bench.stability",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("benches", nargs="+", choices=[*BENCHES, "all"])
    parser.add_argument("--quick", action="store_true", help="a small, fast run (smoke test)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write results")
    args = parser.parse_args(argv)
    # Stopped with SIGTERM, unwind like Ctrl-C: labs, servers and scratch dirs go away.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = list(BENCHES) if "all" in args.benches else args.benches
    figures: list[Figure] = []
    failed = []
    for name in names:
        module = importlib.import_module(BENCHES[name])
        try:
            found = module.run(args.quick, args.results)
        except Exception:
            # One benchmark that cannot run (no lab here, say) must not cost the others.
            traceback.print_exc()
            failed.append(name)
            continue
        print_figures(found)
        print()
        figures += found
    if len(names) > 1:
        print_figures(figures)
    if failed:
        print(f"could not run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
