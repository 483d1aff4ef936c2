"""Probing under API load (issue 13, item 7): does the schedule hold whatever the API does?

A real `vimwatch serve` on the embedded default holds `vims` loopback VIMs at 1 s,
imported through the API. The same server is measured twice: a phase with no API load
(one sequential client measures the routes' latencies), then a phase with `clients`
concurrent keep-alive clients from load-generator processes of their own (bench.load_clients):
a tenth list every VIM unpaged, the rest show, update or list the events of one VIM.
Throughout both, a prober asks /healthz five times a second. The engine's own figures
come from /metrics at the start and end of each phase: its probes sent and the buckets
of its slip histogram (how late probes left against their schedule).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.load_clients import LIST_ALL, SINGLE, single_vim_call
from bench.report import Figure, save
from bench.server import BenchServer
from bench.targets import loopback_addresses

INTERVAL = 1.0
SLIP_P99 = 0.100
HEALTHZ_MAX = 1.0
SINGLE_P99 = 1.0
AT_SCHEDULE = 0.98  # probes sent over probes scheduled
HEALTHZ_EVERY = 0.2
GENERATORS = 2
IMPORT_CHUNK = 5000


def _vim(number: int, address: str) -> dict[str, Any]:
    return {
        "name": f"load-{number}",
        "type": "openstack",
        "auth_url": f"http://{address}/identity",
        "auth_cred": {"username": "u", "password": "p"},
        "vim_project": {"name": "nfv"},
        "extra": {"monitor": {"interval": INTERVAL, "timeout": 0.5}},
    }


def _import(client: httpx.Client, count: int) -> list[str]:
    ids: list[str] = []
    addresses = list(loopback_addresses(count))
    for first in range(0, count, IMPORT_CHUNK):
        chunk = [_vim(first + n, a) for n, a in enumerate(addresses[first : first + IMPORT_CHUNK])]
        response = client.post("/v1.0/vims/import", json={"vims": chunk})
        response.raise_for_status()
        ids += [vim["id"] for vim in response.json()["vims"]]
    return ids


def _wait_until_reachable(client: httpx.Client, vims: int, timeout: float = 300) -> None:
    """Each new VIM's first REACHABLE is a write of the conductor's: ten thousand of them
    are start-up work, not the steady state the phases measure."""
    deadline = time.monotonic() + timeout
    while client.get("/v1.0/vims/counts").json()["counts"].get("REACHABLE", 0) < vims:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all {vims} VIMs REACHABLE within {timeout:g} s")
        time.sleep(0.5)


def _engine_figures(client: httpx.Client) -> dict[str, Any]:
    """Probes sent so far and the slip histogram's cumulative buckets."""
    figures: dict[str, Any] = {"slip": {}}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "vimwatch_probes_sent_total":
                figures["sent"] = sample.value
            elif sample.name == "vimwatch_probe_slip_seconds_bucket":
                figures["slip"][float(sample.labels["le"])] = sample.value
    figures["at"] = time.monotonic()
    return figures


def _slip_p99(before: dict[str, Any], after: dict[str, Any]) -> float:
    """The smallest bucket bound that 99 % of the phase's probes left within."""
    counts = {bound: after["slip"][bound] - before["slip"].get(bound, 0) for bound in after["slip"]}
    total = counts.get(math.inf, 0)
    for bound in sorted(counts):
        if total and counts[bound] >= 0.99 * total:
            return bound
    return math.inf


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class _HealthProber:
    """Asks /healthz on a fresh connection every HEALTHZ_EVERY s; a failure counts as
    its timeout."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.took: list[float] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._probe, daemon=True)

    def _probe(self) -> None:
        while not self._stop.wait(HEALTHZ_EVERY):
            began = time.monotonic()
            try:
                httpx.get(self._url + "/healthz", timeout=5).raise_for_status()
            except httpx.HTTPError:
                self.failed += 1
            self.took.append(time.monotonic() - began)

    @contextmanager
    def running(self) -> Iterator[_HealthProber]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def _generate(port: int, vim_ids: list[str], clients: int, duration: float) -> list[Any]:
    """`clients` clients over GENERATORS processes, a tenth of them listing every VIM."""
    list_all = max(1, clients // 10)
    single = clients - list_all
    processes = []
    for n in range(GENERATORS):
        arguments = {
            "host": "127.0.0.1",
            "port": port,
            "vim_ids": vim_ids,
            "duration": duration,
            "list_all": list_all // GENERATORS + (n < list_all % GENERATORS),
            "single": single // GENERATORS + (n < single % GENERATORS),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.load_clients"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        process.stdin.write(json.dumps(arguments).encode())
        process.stdin.close()
        processes.append(process)
    samples: list[Any] = []
    for process in processes:
        samples += json.loads(process.stdout.read())
        process.wait()
    return samples


def _sequential(client: httpx.Client, vim_ids: list[str], duration: float) -> list[Any]:
    """The no-load phase's own route latencies: one client, one request at a time."""
    samples, serial, until = [], 0, time.monotonic() + duration
    headers = {"Content-Type": "application/json"}
    while time.monotonic() < until:
        if serial % 10 == 9:
            kind, (method, path, body) = LIST_ALL, ("GET", "/v1.0/vims", b"")
        else:
            vim_id = vim_ids[serial * 7919 % len(vim_ids)]
            kind, (method, path, body) = SINGLE, single_vim_call(vim_id, serial)
        began = time.monotonic()
        status = client.request(method, path, content=body, headers=headers).status_code
        samples.append([kind, time.monotonic() - began, status])
        serial += 1
        time.sleep(0.1)
    return samples


def _phase(
    server: BenchServer, client: httpx.Client, vim_ids: list[str], clients: int, duration: float
) -> dict[str, Any]:
    before = _engine_figures(client)
    with _HealthProber(server.url).running() as prober:
        if clients:
            samples = _generate(server.port, vim_ids, clients, duration)
        else:
            samples = _sequential(client, vim_ids, duration)
    after = _engine_figures(client)
    elapsed = after["at"] - before["at"]
    by_kind = {
        kind: [took for k, took, status in samples if k == kind and 200 <= status < 300]
        for kind in (SINGLE, LIST_ALL)
    }
    return {
        "clients": clients,
        "seconds": elapsed,
        "slip_p99": _slip_p99(before, after),
        "probes_per_second": (after["sent"] - before["sent"]) / elapsed,
        "healthz_max": max(prober.took, default=math.nan),
        "healthz_p99": _quantile(prober.took, 0.99),
        "healthz_failed": prober.failed,
        "single_p99": _quantile(by_kind[SINGLE], 0.99),
        "list_all_p99": _quantile(by_kind[LIST_ALL], 0.99),
        "requests_per_second": len(samples) / duration,
        "errors": sum(1 for _, _, status in samples if not 200 <= status < 300),
    }


def _ms(seconds: float) -> str:
    return "unbounded" if math.isinf(seconds) else f"{seconds * 1000:,.0f} ms"


def _figures(loaded: dict[str, Any], quiet: dict[str, Any], scheduled: float) -> list[Figure]:
    load = f"{loaded['clients']} clients"
    at_schedule = loaded["probes_per_second"] / scheduled
    return [
        Figure(
            f"probe slip p99, {load}",
            f"<= {_ms(loaded['slip_p99'])}",
            f"< {_ms(SLIP_P99)}",
            loaded["slip_p99"] < SLIP_P99,
            f"no load: <= {_ms(quiet['slip_p99'])}",
        ),
        Figure(
            f"probes/s, {load}",
            f"{loaded['probes_per_second']:,.0f}/s: {at_schedule:.3f}x the schedule",
            f"{scheduled:,.0f}/s (>= {AT_SCHEDULE}x)",
            at_schedule >= AT_SCHEDULE,
            f"no load: {quiet['probes_per_second'] / scheduled:.3f}x",
        ),
        Figure(
            f"/healthz, {load}",
            f"max {_ms(loaded['healthz_max'])}, p99 {_ms(loaded['healthz_p99'])}, "
            f"{loaded['healthz_failed']} failed",
            f"max < {_ms(HEALTHZ_MAX)}",
            loaded["healthz_max"] < HEALTHZ_MAX and not loaded["healthz_failed"],
            f"no load: max {_ms(quiet['healthz_max'])}",
        ),
        Figure(
            f"single-VIM routes p99, {load}",
            _ms(loaded["single_p99"]),
            f"< {_ms(SINGLE_P99)}",
            loaded["single_p99"] < SINGLE_P99,
            f"no load: {_ms(quiet['single_p99'])}",
        ),
        Figure(
            f"list all VIMs p99, {load}",
            _ms(loaded["list_all_p99"]),
            "",
            None,
            f"no load: {_ms(quiet['list_all_p99'])}",
        ),
        Figure(
            f"request rate, {load}",
            f"{loaded['requests_per_second']:,.0f}/s, {loaded['errors']} errors",
            "",
            None,
            f"no load: {quiet['requests_per_second']:,.1f}/s (one client, paced)",
        ),
    ]


def run(
    quick: bool,
    results: Path,
    vims: int | None = None,
    clients: int | None = None,
    duration: float | None = None,
) -> list[Figure]:
    vims = vims or (1000 if quick else 10_000)
    clients = clients or (20 if quick else 200)
    duration = duration or (10.0 if quick else 60.0)
    with tempfile.TemporaryDirectory(prefix="vimwatch-bench-") as scratch:
        state = Path(scratch) / "state"
        with (
            BenchServer(state) as server,
            httpx.Client(base_url=server.url, timeout=300) as client,
        ):
            vim_ids = _import(client, vims)
            server.wait_for_monitors(vims, timeout=300)
            _wait_until_reachable(client, vims)
            time.sleep(min(5.0, duration / 2))  # the first rounds of probes settle
            quiet = _phase(server, client, vim_ids, 0, duration)
            loaded = _phase(server, client, vim_ids, clients, duration)
    figures = _figures(loaded, quiet, vims / INTERVAL)
    save("load", figures, {"vims": vims, "quiet": quiet, "loaded": loaded}, results)
    return figures
