"""Each benchmark, run small (`--quick`), still runs and still writes its figures.

The benchmarks themselves are too slow and too noisy for CI; these runs only keep the
scripts from rotting: a figure missing from the JSON, or a plot not written, fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab import unavailable

ROOT = Path(__file__).resolve().parents[2]


def run_bench(name: str, results: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench", name, "--quick", "--results", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "target" in done.stdout
    return json.loads((results / f"{name}.json").read_text())


def needs_lab() -> None:
    reason = unavailable()
    if reason:
        pytest.skip(reason)


def test_cost_compares_the_engine_with_fping_and_a_thread_per_vim(tmp_path: Path) -> None:
    needs_lab()  # fping and ping are installed with apt-get, as root
    figures = run_bench("cost", tmp_path)["figures"]
    assert [f["name"] for f in figures] == ["cost per probe", "against the old design"]
    assert all("µs" in f["baseline"] for f in figures)


def test_capacity_writes_its_points_and_the_curve(tmp_path: Path) -> None:
    result = run_bench("capacity", tmp_path)
    assert {p["vims"] for p in result["points"]} == {200, 500, 1000}
    assert all(p["probes"] > 0 and p["lost_fraction"] < 0.5 for p in result["points"])
    assert (tmp_path / "capacity.png").stat().st_size > 0


def test_registration_times_one_by_one_and_import(tmp_path: Path) -> None:
    result = run_bench("registration", tmp_path)
    assert result["one_by_one"]["running"] > 0 and result["bulk"]["running"] > 0


def test_api_times_pages_and_counts(tmp_path: Path) -> None:
    figures = run_bench("api", tmp_path)["figures"]
    assert len(figures) == 3 and all("median" in f["measured"] for f in figures)


def test_availability_times_the_fleet_and_one_vim_through_the_server(tmp_path: Path) -> None:
    result = run_bench("availability", tmp_path)
    fleet, one, refresh = result["figures"]
    assert fleet["name"].startswith("fleet view") and "old event scan" in fleet["baseline"]
    assert refresh["measured"].endswith(" s")
    assert one["name"] == "one VIM, 30 days" and "p99" in one["measured"]
    assert result["rolled_days"] == 32 and len(fleet["details"]["seconds"]) == 20


def test_load_measures_probing_with_and_without_api_load(tmp_path: Path) -> None:
    result = run_bench("load", tmp_path)
    assert [f["name"].split(",")[0] for f in result["figures"]] == [
        "probe slip p99",
        "probes/s",
        "/healthz",
        "single-VIM routes p99",
        "list all VIMs p99",
        "request rate",
    ]
    assert all(f["baseline"].startswith("no load") for f in result["figures"])
    assert result["loaded"]["probes_per_second"] > 0 and result["quiet"]["probes_per_second"] > 0


@pytest.mark.lab
def test_detection_sees_every_lab_vim_go_down_and_come_back(tmp_path: Path) -> None:
    needs_lab()
    result = run_bench("detection", tmp_path)
    assert len(result["down_seconds"]) == len(result["up_seconds"]) == result["lab_vims"]
    assert (tmp_path / "detection.png").stat().st_size > 0


@pytest.mark.lab
def test_stability_counts_false_unreachable_under_loss(tmp_path: Path) -> None:
    needs_lab()
    result = run_bench("stability", tmp_path)
    assert result["figures"][0]["details"]["vims"] == 50


def test_server_measures_the_whole_serve_process_against_fpings_steady_state(
    tmp_path: Path,
) -> None:
    needs_lab()  # fping is installed with apt-get, as root
    result = run_bench("server", tmp_path)
    idle, few, many = result["runs"]
    assert [idle["vims"], few["vims"], many["vims"]] == [0, 200, 1000]
    assert few["probes"] > 0 and many["probes"] > few["probes"]
    assert result["fping_steady_us"] > 0 and result["fping_short_us"] > 0
    names = [f["name"] for f in result["figures"]]
    assert names == [
        "whole server, CPU per probe",
        "whole server, fixed cost",
        "whole server, memory",
    ]


@pytest.mark.clients  # the real Keystone, in its cached environment
def test_keystone_logins_counts_from_both_sides(tmp_path: Path) -> None:
    result = run_bench("keystone_logins", tmp_path)
    assert [f["name"] for f in result["figures"]] == [
        "Keystone logins = token renewals",
        "failed logins of a wrong password",
    ]
    # Keystone answered logins and refused the wrong password. A login the short quick
    # timeout cut off may never be answered, so Keystone may count fewer than were sent,
    # never more.
    answered = result["keystone_201"] + result["keystone_401"]
    assert 0 < answered <= result["vimwatch_logins"]
    assert result["keystone_401"] >= 1 and result["checks"] > 0
