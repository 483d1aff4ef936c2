"""`vimwatch vim import FILE`: a fleet file in, its VIMs registered in batches."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import yaml

from tests.service import VIMWATCH, Server


def entry(name: str, host: str) -> dict[str, str]:
    return {
        "name": name,
        "auth_url": f"http://{host}/identity",
        "username": "nfv_user",
        "password": "s3cret",
        "project_name": "nfv",
        "project_domain_name": "Default",
        "user_domain_name": "Default",
    }


def test_a_yaml_fleet_is_imported_in_batches_with_a_progress_bar(
    quiet_server: Server, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump([entry(f"site-{n}", f"127.0.2.{n + 1}") for n in range(5)]))
    done = quiet_server.cli("vim", "import", str(fleet), "--batch-size", "2", "-f", "json")
    imported = json.loads(done.stdout)
    assert [row["name"] for row in imported] == [f"site-{n}" for n in range(5)]
    assert "5/5" in done.stderr
    listed = quiet_server.cli_json("vim", "list")
    assert sorted(row["name"] for row in listed) == [f"site-{n}" for n in range(5)]
    shown = quiet_server.cli_json("vim", "show", "site-3")
    assert "s3cret" not in json.dumps(shown)


def test_an_entry_without_a_name_is_refused_before_anything_is_sent(
    quiet_server: Server, tmp_path: Path
) -> None:
    broken = entry("", "127.0.0.1")
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps([entry("fine", "127.0.0.2"), broken]))
    done = quiet_server.cli("vim", "import", str(fleet), check=False)
    assert done.returncode != 0
    assert "fleet.json[1]" in done.stderr and "name" in done.stderr
    assert quiet_server.cli_json("vim", "list") == []


def test_an_entry_with_a_mistyped_key_is_refused_naming_it(
    quiet_server: Server, tmp_path: Path
) -> None:
    typo = {**entry("typo", "127.0.0.3"), "is_defualt": True}
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps([entry("fine", "127.0.0.2"), typo]))
    done = quiet_server.cli("vim", "import", str(fleet), check=False)
    assert done.returncode != 0
    assert f"{fleet}[1]: unknown key 'is_defualt' (did you mean 'is_default'?)" in done.stderr
    assert quiet_server.cli_json("vim", "list") == []


def listed_names(server: Server) -> list[str]:
    return sorted(row["name"] for row in server.cli_json("vim", "list"))


def test_a_refused_batch_is_named_and_skip_existing_then_registers_each_vim_once(
    quiet_server: Server, tmp_path: Path
) -> None:
    fleet = [entry(f"site-{n}", f"127.0.2.{n + 1}") for n in range(10)]
    fleet[7]["description"] = "x" * 5000  # longer than the API takes
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet))
    stopped = quiet_server.cli("vim", "import", str(path), "--batch-size", "3", check=False)
    assert stopped.returncode != 0
    assert (
        "import stopped: batches 1-2 of 4 (entries 0-5) are stored; "
        "batch 3 (entries 6-8) was refused and is not stored: " in stopped.stderr
    )
    assert "batch 4 was not sent" in stopped.stderr and "--skip-existing" in stopped.stderr
    assert listed_names(quiet_server) == [f"site-{n}" for n in range(6)]

    del fleet[7]["description"]
    path.write_text(yaml.safe_dump(fleet))
    refused = quiet_server.cli("vim", "import", str(path), "--batch-size", "3", check=False)
    assert refused.returncode != 0
    assert "import stopped: no batch is stored; batch 1 (entries 0-2) was refused" in (
        refused.stderr
    )
    assert "site-0" in refused.stderr and "--skip-existing" in refused.stderr

    args = ("vim", "import", str(path), "--batch-size", "3", "--skip-existing", "-f", "json")
    finished = quiet_server.cli(*args)
    results = {row["name"]: row["result"] for row in json.loads(finished.stdout)}
    assert results == {f"site-{n}": "imported" if n >= 6 else "skipped" for n in range(10)}
    assert "skipped 6 VIMs already registered" in finished.stderr
    assert "skipped 10 VIMs already registered" in quiet_server.cli(*args).stderr
    assert listed_names(quiet_server) == sorted(f"site-{n}" for n in range(10))


STORED = re.compile(
    r"(?:no batch is stored|batch(?:es 1-\d+| 1) of \d+ \(entries 0-(\d+)\) (?:is|are) stored)"
)


def test_an_import_cut_short_by_a_killed_server_names_what_it_stored_and_can_be_finished(
    tmp_path: Path,
) -> None:
    server = Server(
        tmp_path / "state",
        env={"VIMWATCH_VALIDATE_VIMS": "false", "VIMWATCH_MONITOR_INTERVAL": "10"},
    ).start()
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps([entry(f"v{n}", f"127.0.5.{n % 250 + 1}") for n in range(5000)]))
    command = [*VIMWATCH, "--os-url", server.url, "vim", "import", str(fleet)]
    try:
        importing = subprocess.Popen(
            [*command, "--batch-size", "100"],
            env=server.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            server.wait_for(
                lambda: server.api("GET", "/v1.0/vims/counts").json()["total"] > 0, timeout=60
            )
            server.stop(signal.SIGKILL)
            _, stderr = importing.communicate(timeout=60)
        finally:
            importing.kill()
        assert importing.returncode != 0, "the import ended before the server was killed"
        stored = STORED.search(stderr)
        assert stored, stderr
        reported = int(stored[1]) + 1 if stored[1] else 0
        server.start()
        count = server.api("GET", "/v1.0/vims/counts").json()["total"]
        if "may or may not be stored" in stderr:
            assert count in (reported, reported + 100), stderr
        else:
            assert "is not stored" in stderr, stderr
            assert count == reported, stderr
        finished = subprocess.run(
            [*command, "--batch-size", "1000", "--skip-existing", "-f", "value", "-c", "result"],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert finished.returncode == 0, finished.stderr
        assert finished.stdout.split().count("skipped") == count
        names = [
            v["name"]
            for v in server.api("GET", "/v1.0/vims", params={"fields": "name"}).json()["vims"]
        ]
        assert sorted(names) == sorted(f"v{n}" for n in range(5000))
    finally:
        server.stop()
