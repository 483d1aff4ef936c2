"""One engine-sized probing run: N loopback VIMs on one Scheduler, measured from inside.

Run in a process of its own (`python -m bench.scheduler_load --vims N ...`) so that its RSS
before and after adding the VIMs is the scheduler's alone; prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import uuid

from bench.process import cpu_seconds, rss_bytes
from bench.targets import loopback_addresses
from vimwatch.contract import REACHABLE
from vimwatch.monitor.scheduler import MonitorSpec, Scheduler
from vimwatch.monitor.target import target_from_auth_url

ADD_CHUNK = 1000


async def _accept(changes: list[tuple[str, str]]) -> list[str]:
    return [wanted for _, wanted in changes]


async def run(
    vims: int, interval: float, timeout: float, seconds: float, settle: float = 0.0
) -> dict[str, float]:
    scheduler = Scheduler(_accept)
    await scheduler.start()
    gc.collect()
    rss_empty = rss_bytes()
    for index, address in enumerate(loopback_addresses(vims)):
        target = target_from_auth_url(f"http://{address}/identity")
        spec = MonitorSpec(str(uuid.uuid4()), target, interval=interval, timeout=timeout)
        scheduler.add(spec, REACHABLE)
        if index % ADD_CHUNK == ADD_CHUNK - 1:
            # As the engine adds a lease round's monitors: the slots that fall due while
            # a large fleet is being added are probed then, not all together at its end.
            await asyncio.sleep(0)
    # One whole interval first, so that every VIM has started and the first wave is over.
    await asyncio.sleep(interval + timeout + 0.5)
    gc.collect()
    rss_full = rss_bytes()
    # A loop near its capacity takes seconds to work off the first wave (all VIMs due at
    # once after the adding) and the pause of the collection above; `settle` keeps that
    # catch-up out of the slip measured, which is then the steady state's.
    await asyncio.sleep(settle)
    slip = getattr(scheduler, "slip", None)
    if slip is not None:
        slip.reset()
    sent, lost, cpu = scheduler.probes_sent, scheduler.probes_lost, cpu_seconds()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(seconds)
    elapsed = loop.time() - began
    cpu = cpu_seconds() - cpu
    sent, lost = scheduler.probes_sent - sent, scheduler.probes_lost - lost
    await scheduler.close()
    result = {
        "vims": vims,
        "interval": interval,
        "seconds": elapsed,
        "probes": sent,
        "probes_per_second": sent / elapsed,
        "lost_fraction": lost / sent if sent else 1.0,
        "cpu_cores": cpu / elapsed,
        "cpu_us_per_probe": cpu / sent * 1e6 if sent else float("nan"),
        "rss_bytes_per_vim": (rss_full - rss_empty) / vims if vims else 0.0,
    }
    if slip is not None:
        result.update(slip_p50=slip.quantile(0.5), slip_p99=slip.quantile(0.99))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vims", type=int, required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=0.0, help="seconds before measuring")
    args = parser.parse_args()
    result = asyncio.run(run(args.vims, args.interval, args.timeout, args.seconds, args.settle))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
