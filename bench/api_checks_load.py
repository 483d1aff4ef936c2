"""One engine-sized run of reachability and API checks together, measured from inside.

N loopback VIMs are probed over ICMP every second on one Scheduler; with `--api`, each
also has its API check every `--api-interval` seconds, half of them `keystone`, half
`kubernetes`, against the doubles of bench.api_doubles (one HTTPS server for all). Each
check's verdict holds the VIM's status as in the engine. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import ssl
import uuid
from collections import Counter

import httpx

from bench.api_doubles import BEARER, PASSWORD
from bench.process import cpu_seconds, rss_bytes
from bench.targets import loopback_addresses
from vimwatch.contract import REACHABLE
from vimwatch.monitor.checks.keystone import KeystoneAccess
from vimwatch.monitor.checks.kubernetes import KubernetesAccess
from vimwatch.monitor.checks.runner import ApiChecks, ApiSettings, VimAccess
from vimwatch.monitor.scheduler import MonitorSpec, Scheduler
from vimwatch.monitor.target import target_from_auth_url

ADD_CHUNK = 1000


async def _accept(changes: list[tuple[str, str]]) -> list[str]:
    return [wanted for _, wanted in changes]


def _accesses(port: int, ca_file: str) -> tuple[VimAccess, VimAccess]:
    keystone = KeystoneAccess(
        auth_url=f"https://127.0.0.1:{port}/identity/v3",
        username="bench",
        password=PASSWORD,
        user_domain_name="Default",
        project_name="nfv",
        project_id=None,
        project_domain_name="Default",
        verify=False,  # Tacker's cert_verify "False"; the Kubernetes half verifies its CA
        regions=("RegionOne",),
    )
    context = ssl.create_default_context(cafile=ca_file)
    kubernetes = KubernetesAccess(
        base_url=f"https://127.0.0.1:{port}", verify=context, bearer_token=BEARER
    )
    return VimAccess(keystone, "keystone"), VimAccess(kubernetes, "kubernetes")


async def run(args: argparse.Namespace) -> dict[str, float]:
    scheduler = Scheduler(_accept)
    await scheduler.start()
    accesses = _accesses(args.port, args.ca_file) if args.api else None
    kinds: dict[str, int] = {}

    async def load(vim_id: str) -> VimAccess:
        assert accesses is not None
        return accesses[kinds[vim_id]]

    def changed(vim_id: str) -> None:
        scheduler.hold(vim_id, checks.verdict(vim_id))

    checks = ApiChecks(load, changed, concurrency=args.concurrency)
    await checks.start()
    gc.collect()
    rss_empty = rss_bytes()
    settings = ApiSettings(interval=args.api_interval, timeout=10.0)
    for index, address in enumerate(loopback_addresses(args.vims)):
        target = target_from_auth_url(f"http://{address}/identity")
        vim_id = str(uuid.uuid4())
        scheduler.add(MonitorSpec(vim_id, target, interval=1.0, timeout=1.0), REACHABLE)
        if args.api:
            kinds[vim_id] = index % 2
            checks.add(vim_id, settings)
        if index % ADD_CHUNK == ADD_CHUNK - 1:
            await asyncio.sleep(0)
    # The first round of API checks (every VIM's first login) before measuring: the steady
    # state is what a running engine spends, and its logins are only the renewals.
    await asyncio.sleep(args.settle)
    gc.collect()
    rss_full = rss_bytes()
    scheduler.slip.reset()
    sent, cpu = scheduler.probes_sent, cpu_seconds()
    run_before, logins_before = checks.checks_run, checks.logins
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(args.seconds)
    elapsed = loop.time() - began
    cpu = cpu_seconds() - cpu
    reasons = Counter(
        state.reason
        for state in (checks.state_of(vim_id) for vim_id in checks.vims())
        if state is not None and state.state == "failing"
    )
    await checks.drain()
    result = {
        "vims": args.vims,
        "api": args.api,
        "seconds": elapsed,
        "probes": scheduler.probes_sent - sent,
        "lost_fraction": scheduler.probes_lost / max(scheduler.probes_sent, 1),
        "cpu_cores": cpu / elapsed,
        "api_checks": checks.checks_run - run_before,
        "api_checks_failed": checks.checks_failed,
        "api_logins_in_window": checks.logins - logins_before,
        "api_logins_total": checks.logins,
        "slip_p50": scheduler.slip.quantile(0.5),
        "slip_p99": scheduler.slip.quantile(0.99),
        "rss_bytes_per_vim": (rss_full - rss_empty) / args.vims,
        "failing_at_end": dict(reasons.most_common(5)),
    }
    await checks.close()
    await scheduler.close()
    if args.api:
        async with httpx.AsyncClient(verify=False) as client:
            stats = await client.get(f"https://127.0.0.1:{args.port}/stats")
            result["double"] = stats.json()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vims", type=int, required=True)
    parser.add_argument("--api", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ca-file", default="")
    parser.add_argument("--api-interval", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--settle", type=float, default=65.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
