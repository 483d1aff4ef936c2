"""/metrics as Prometheus reads it, and the sample alert rule in a real Prometheus."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.tcp_host import TcpHost, register_tcp_vim
from tests.service import Server, free_port
from vimwatch.metrics.collectors import PER_VIM_AUTO_LIMIT, wants_per_vim

ALERT_RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "vimwatch-alerts.yml"


def start_server(tmp_path: Path, **env: str) -> Server:
    return Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false", **env}).start()


def scrape(server: Server) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, metric: str, /, **labels: str) -> float | None:
    return samples.get((metric, tuple(sorted(labels.items()))))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_metrics_follow_an_outage_probe_by_probe(server: Server) -> None:
    with TcpHost() as host:
        vim_id = register_tcp_vim(server, "measured", host, down_after=2)
        server.wait_for(lambda: server.vim_status(vim_id) == "REACHABLE")
        host.down()
        server.wait_for(lambda: server.vim_status(vim_id) == "UNREACHABLE")
        samples = scrape(server)

    assert value(samples, "vimwatch_vims", status="UNREACHABLE") == 1
    up = value(samples, "vimwatch_vim_up", vim_id=vim_id, name="measured", project_id="default")
    assert up == 0
    sent = value(samples, "vimwatch_probes_sent_total")
    lost = value(samples, "vimwatch_probes_lost_total")
    assert sent >= 3 and 2 <= lost < sent
    assert value(samples, "vimwatch_status_transitions_total", status="REACHABLE") == 1
    assert value(samples, "vimwatch_status_transitions_total", status="UNREACHABLE") == 1
    assert value(samples, "vimwatch_conductor_call_seconds_count") == 2
    assert value(samples, "vimwatch_engine_loop_lag_seconds_count") > 0
    answered = value(samples, "vimwatch_vim_probe_rtt_seconds_count", vim_id=vim_id)
    assert sent - lost - 1 <= answered <= sent - lost  # one probe may be in flight
    assert value(samples, "vimwatch_probe_rtt_seconds_count") == answered
    assert value(samples, "vimwatch_webhook_deliveries_pending") == 0


def test_per_vim_series_can_be_switched_off_for_large_fleets(tmp_path: Path) -> None:
    server = start_server(tmp_path, VIMWATCH_METRICS_PER_VIM="false")
    try:
        with TcpHost() as host:
            vim_id = register_tcp_vim(server, "anonymous", host)
            server.wait_for(lambda: server.vim_status(vim_id) == "REACHABLE")
            samples = scrape(server)
    finally:
        server.stop()
    names = {name for name, _ in samples}
    assert value(samples, "vimwatch_vims", status="REACHABLE") == 1
    assert "vimwatch_probe_rtt_seconds_count" in names
    assert not {n for n in names if n.startswith(("vimwatch_vim_up", "vimwatch_vim_probe"))}
    assert not any(vim_id in str(labels) for _, labels in samples)


def test_auto_keeps_per_vim_series_up_to_the_limit() -> None:
    assert wants_per_vim("auto", PER_VIM_AUTO_LIMIT)
    assert not wants_per_vim("auto", PER_VIM_AUTO_LIMIT + 1)
    assert wants_per_vim(True, 10**6) and not wants_per_vim(False, 1)


def test_the_sample_alert_rules_are_valid() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("prometheus: promtool is not installed (apt-get install prometheus)")
    checked = subprocess.run([promtool, "check", "rules", str(ALERT_RULES)], capture_output=True)
    assert checked.returncode == 0, checked.stderr


class Prometheus:
    """Debian's prometheus binary on 127.0.0.1, scraping one target every second."""

    def __init__(self, workdir: Path, target: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERT_RULES)],
            "scrape_configs": [{"job_name": "vimwatch", "static_configs": [{"targets": [target]}]}],
        }
        workdir.mkdir()
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = (workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("prometheus did not become ready")

    def api(self, path: str, **params: str) -> dict:
        return httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5).json()["data"]

    def alerts(self, name: str, state: str) -> list[dict]:
        return [
            alert
            for alert in self.api("alerts")["alerts"]
            if alert["labels"]["alertname"] == name and alert["state"] == state
        ]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.mark.prometheus
def test_prometheus_fires_the_sample_alert_when_a_vim_goes_down(
    server: Server, tmp_path: Path
) -> None:
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus: not installed (apt-get install prometheus)")
    prometheus = Prometheus(tmp_path / "prometheus", f"127.0.0.1:{server.port}")
    try:
        prometheus.wait_ready()
        groups = prometheus.api("rules")["groups"]
        assert all(rule["health"] != "err" for g in groups for rule in g["rules"])
        with TcpHost() as flaky_host, TcpHost() as steady_host:
            flaky = register_tcp_vim(server, "flaky", flaky_host, down_after=2)
            register_tcp_vim(server, "steady", steady_host)
            server.wait_for(
                lambda: prometheus.api("query", query='vimwatch_vim_up{name="flaky"} == 1')[
                    "result"
                ],
                timeout=30,
            )
            assert prometheus.alerts("VimUnreachable", "firing") == []

            flaky_host.down()
            [alert] = server.wait_for(
                lambda: prometheus.alerts("VimUnreachable", "firing"), timeout=30
            )
            assert alert["labels"]["vim_id"] == flaky and alert["labels"]["name"] == "flaky"
            assert alert["labels"]["severity"] == "critical"
            assert alert["annotations"]["summary"] == "VIM flaky is unreachable"
            assert prometheus.alerts("VimsUnreachable", "firing") == []

            flaky_host.up()
            server.wait_for(lambda: not prometheus.alerts("VimUnreachable", "firing"), timeout=30)
    finally:
        prometheus.stop()
