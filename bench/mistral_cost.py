"""What one monitored VIM costs with the mistral backend, beside the embedded engine.

    python -m bench.mistral_cost [--vims N]

Builds (or reuses) the tests' Mistral environment, then runs the same registration twice on
this machine: once on a real Mistral (control plane plus ONE executor, so its figures are
one process's) and once in services mode with one vimwatch engine. Each time it registers N
VIMs (loopback ICMP targets, 1 s interval, validation off) from 8 concurrent clients and
reads, before and after:

- threads and memory (RSS, and PSS, which does not double-count shared pages) of the
  process running the monitors (Mistral's executor worker / vimwatch's engine) and, for
  Mistral, of its engine worker;
- the broker's queues and bindings in the deployment's vhost;
- registrations per second: POSTs answered, and until every monitor runs (its
  KILL_ACTION binding exists).

Results are printed as a table and written to bench/results/mistral_cost.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from tests.broker import private_vhost, rabbitmqctl
from tests.databases import scratch_database
from tests.mistral.deployment import Mistral
from tests.mistral.environment import ensure_mistral_environment
from tests.service import Process, Server, vim_body

CLIENTS = 8
RESULTS = Path(__file__).parent / "results" / "mistral_cost.json"
MONITOR_ENV = {"VIMWATCH_MONITOR_INTERVAL": "1", "VIMWATCH_MONITOR_TIMEOUT": "1"}


@dataclass
class ProcessCost:
    threads: int
    rss_kib: int
    pss_kib: int


@dataclass
class BrokerCost:
    queues: int
    bindings: int
    kill_bindings: int


@dataclass
class Snapshot:
    monitors: ProcessCost
    mistral_engine: ProcessCost | None
    broker: BrokerCost


def process_cost(pid: int) -> ProcessCost:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = {line.split(":")[0]: line.split(":")[1].split() for line in status}
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    pss = next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    return ProcessCost(int(fields["Threads"][0]), int(fields["VmRSS"][0]), pss)


def broker_cost(vhost: str) -> BrokerCost:
    queues = rabbitmqctl("list_queues", "-p", vhost, "-q", "--no-table-headers", "name")
    keys = rabbitmqctl("list_bindings", "-p", vhost, "-q", "--no-table-headers", "routing_key")
    keys_list = [line.strip() for line in keys.splitlines() if line.strip()]
    return BrokerCost(
        queues=len([line for line in queues.splitlines() if line.strip()]),
        bindings=len(keys_list),
        kill_bindings=len([key for key in keys_list if key.startswith("KILL_ACTION.")]),
    )


def register(api: Server, numbers: range, monitored: Callable[[], int]) -> tuple[float, float]:
    """(registrations/s until every POST returned, ... until every monitor runs)."""
    started = time.monotonic()
    with httpx.Client(base_url=api.url, timeout=60) as client:

        def post(number: int) -> None:
            address = f"127.0.{1 + number // 250}.{1 + number % 250}"
            response = client.post("/v1.0/vims", json=vim_body(f"bench-{number}", address))
            response.raise_for_status()

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(post, numbers))
    answered = time.monotonic() - started
    deadline = started + 900
    while monitored() < numbers.stop:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {monitored()} of {numbers.stop} monitors run after 900 s")
        time.sleep(0.5)
    running = time.monotonic() - started
    return len(numbers) / answered, len(numbers) / running


def measure(
    api: Server, count: int, snapshot: Callable[[], Snapshot], monitored: Callable[[], int]
) -> dict[str, object]:
    """Snapshots with no VIM, with one (what the first costs: runtime, imports, queue) and
    with `count`; the per-VIM figures are the slope between the last two."""
    before = snapshot()
    register(api, range(1), monitored)
    time.sleep(3)
    one = snapshot()
    rates = register(api, range(1, count), monitored)
    time.sleep(5)  # let heartbeats and first probes settle
    after = snapshot()
    return {"before": asdict(before), "one": asdict(one), "after": asdict(after), "rates": rates}


@contextmanager
def databases_and_vhost(work: Path, databases: int) -> Iterator[tuple[list[str], str, str]]:
    with ExitStack() as stack:
        urls = [stack.enter_context(scratch_database("postgresql", work)) for _ in range(databases)]
        transport, vhost = stack.enter_context(private_vhost())
        yield urls, transport, vhost


def upgrade(state_dir: Path, env: dict[str, str]) -> None:
    process = Process(state_dir, env, role=("db", "upgrade"))
    process.launch()
    assert process.process is not None
    if process.process.wait(120) != 0:
        raise RuntimeError(process.log())


def measure_mistral(work: Path, count: int) -> dict[str, object]:
    venv = ensure_mistral_environment()
    work.mkdir(parents=True)
    with databases_and_vhost(work, 2) as ((vimwatch_db, mistral_db), transport, vhost):
        mistral = Mistral(
            venv,
            work / "mistral",
            database_url=mistral_db.replace("+psycopg:", "+psycopg2:"),
            transport_url=transport,
            vimwatch_transport_url=transport,
            executor_threads=count + 64,
        )
        env = {
            **MONITOR_ENV,
            "VIMWATCH_DATABASE_URL": vimwatch_db,
            "VIMWATCH_TRANSPORT_URL": transport,
            "VIMWATCH_WORKFLOW_BACKEND": "mistral",
            "VIMWATCH_MISTRAL_URL": mistral.url,
            "VIMWATCH_VALIDATE_VIMS": "false",
        }
        upgrade(work / "api", env)
        conductor = Process(work / "conductor", env, role=("conductor",))
        api = Server(work / "api", env, role=("api",))
        try:
            mistral.prepare()
            mistral.start(executors=("executor",))
            conductor.launch()
            api.start()
            assert mistral.control is not None
            engine_pid = mistral.control.worker_pid("Engine server started")
            executor_pid = mistral.executors["executor"].worker_pid("Executor server started")

            def snapshot() -> Snapshot:
                return Snapshot(
                    process_cost(executor_pid), process_cost(engine_pid), broker_cost(vhost)
                )

            return measure(api, count, snapshot, lambda: broker_cost(vhost).kill_bindings)
        finally:
            api.stop()
            conductor.stop()
            mistral.stop()


def measure_embedded(work: Path, count: int) -> dict[str, object]:
    work.mkdir(parents=True)
    with databases_and_vhost(work, 1) as ((database,), transport, vhost):
        env = {
            **MONITOR_ENV,
            "VIMWATCH_DATABASE_URL": database,
            "VIMWATCH_TRANSPORT_URL": transport,
            "VIMWATCH_VALIDATE_VIMS": "false",
        }
        upgrade(work / "api", env)
        conductor = Process(work / "conductor", env, role=("conductor",))
        engine = Process(work / "engine", {**env, "VIMWATCH_ENGINE_ID": "bench"}, role=("engine",))
        api = Server(work / "api", env, role=("api",))
        try:
            conductor.launch()
            engine.launch()
            api.start()
            assert engine.process is not None
            time.sleep(2)

            def snapshot() -> Snapshot:
                return Snapshot(process_cost(engine.process.pid), None, broker_cost(vhost))

            return measure(api, count, snapshot, lambda: broker_cost(vhost).kill_bindings)
        finally:
            api.stop()
            engine.stop()
            conductor.stop()


def per_vim(result: dict, part: str, field: str, count: int) -> float:
    one, after = result["one"][part], result["after"][part]
    return (after[field] - one[field]) / (count - 1)


def first_vim(result: dict, part: str, field: str) -> float:
    return result["one"][part][field] - result["before"][part][field]


def table(results: dict[str, dict], count: int) -> str:
    rows = [
        "| per monitored VIM (the first VIM's own cost) | mistral (executor) | embedded (engine) |",
        "| --- | --- | --- |",
    ]
    mistral, embedded = results["mistral"], results["embedded"]
    for label, part, field in (
        ("threads in the monitoring process", "monitors", "threads"),
        ("RSS of the monitoring process (KiB)", "monitors", "rss_kib"),
        ("PSS of the monitoring process (KiB)", "monitors", "pss_kib"),
        ("broker queues", "broker", "queues"),
        ("broker bindings", "broker", "bindings"),
    ):
        rows.append(
            f"| {label} | {per_vim(mistral, part, field, count):.2f} "
            f"(first: {first_vim(mistral, part, field):.0f}) "
            f"| {per_vim(embedded, part, field, count):.2f} "
            f"(first: {first_vim(embedded, part, field):.0f}) |"
        )
    queues = [result["after"]["broker"]["queues"] for result in (mistral, embedded)]
    rows.append(f"| broker queues in all, after {count} VIMs | {queues[0]} | {queues[1]} |")
    engine_threads = per_vim(mistral, "mistral_engine", "threads", count)
    engine_rss = per_vim(mistral, "mistral_engine", "rss_kib", count)
    rows.append(
        f"| Mistral engine threads / RSS KiB | {engine_threads:.2f} / {engine_rss:.1f} | - |"
    )
    for label, index in (("answered", 0), ("monitor running", 1)):
        mistral_rate, embedded_rate = mistral["rates"][index], embedded["rates"][index]
        rows.append(f"| registrations/s ({label}) | {mistral_rate:.1f} | {embedded_rate:.1f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vims", type=int, default=200, help="VIMs to register (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vimwatch-bench-") as scratch:
        work = Path(scratch)
        results = {
            "vims": args.vims,
            "mistral": measure_mistral(work / "mistral-mode", args.vims),
            "embedded": measure_embedded(work / "embedded-mode", args.vims),
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(table(results, args.vims))
    print(f"\nraw readings: {RESULTS}")


if __name__ == "__main__":
    main()
