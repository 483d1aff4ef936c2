"""`python -m bench FIGURE... [--quick]`: run benchmarks and print each figure beside its
target and its same-run baselines; JSON and PNG results go to bench/results/."""

from __future__ import annotations

import argparse
import importlib
import inspect
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
    "server": "bench.server_cost",
    "load": "bench.load",
    "apichecks": "bench.api_checks",
    "keystone_logins": "bench.keystone_logins",
    "availability": "bench.availability",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("benches", nargs="+", choices=[*BENCHES, "all"])
    parser.add_argument("--quick", action="store_true", help="a small, fast run (smoke test)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write results")
    # Sizes of a bench that takes them (load): a shorter or smaller run than the figure's.
    parser.add_argument("--vims", type=int, help="VIMs in the fleet (load, availability)")
    parser.add_argument("--clients", type=int, help="concurrent API clients (load)")
    parser.add_argument("--duration", type=float, help="seconds of each phase (load)")
    parser.add_argument("--minutes", type=float, help="length of the run (keystone_logins)")
    args = parser.parse_args(argv)
    sizes = {
        name: getattr(args, name)
        for name in ("vims", "clients", "duration", "minutes")
        if getattr(args, name) is not None
    }
    # Stopped with SIGTERM, unwind like Ctrl-C: labs, servers and scratch dirs go away.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = list(BENCHES) if "all" in args.benches else args.benches
    figures: list[Figure] = []
    failed = []
    for name in names:
        module = importlib.import_module(BENCHES[name])
        try:
            taken = inspect.signature(module.run).parameters
            found = module.run(
                args.quick, args.results, **{k: v for k, v in sizes.items() if k in taken}
            )
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
