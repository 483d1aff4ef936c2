"""`python -m bench keystone_logins [--minutes 10]`: what the keystone API check costs a
real Keystone, counted from both sides.

The real Keystone of the test suite (PyPI `keystone` under uWSGI, tests/clients), with a
short token lifetime so that tokens are renewed within the run, and a vimwatch server
whose VIMs have `checks: [icmp, api]`: several with their right password, one with a
wrong one. The logins are counted by Keystone (its uWSGI log: `POST /v3/auth/tokens`
answered 201 or 401) and by vimwatch (`vimwatch_api_check_logins_total` and
`..._failed_logins_total` on /metrics), and set beside what the token lifetime and the
backoff allow:

- a token is used until less than interval + timeout of its life is left, and checks
  come every interval, so a VIM logs in once per `interval * ceil((lifetime - margin) /
  interval)` seconds: the renewals expected;
- a refused login waits one interval, then two, four... (up to 15 minutes): failed
  logins at about 0, 1, 3, 7, 15... intervals, never more than one per interval.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
from pathlib import Path

from bench.report import Figure, save
from tests.clients.keystone import Keystone
from tests.clients.venvs import ensure_environment
from tests.service import Server

PASSWORD = "bench-login-pw"
GOOD_VIMS = 5
FIRST_SPREAD = 5.0  # the runner starts a VIM's first check within this many seconds


def run(quick: bool, results: Path, minutes: float | None = None) -> list[Figure]:
    # (seconds, API interval, API timeout, token lifetime)
    seconds, interval, timeout, lifetime = (
        (40.0, 4.0, 4.0, 20) if quick else (600.0, 60.0, 10.0, 180)
    )
    if minutes is not None:
        seconds = minutes * 60
    with tempfile.TemporaryDirectory(prefix="vimwatch-bench-keystone-") as scratch:
        counts = _measure(Path(scratch), seconds, interval, timeout, lifetime)
    margin = interval + timeout
    period = interval * math.ceil((lifetime - margin) / interval)
    # A VIM's first login comes within FIRST_SPREAD s of its start, its renewals every
    # `period` after; the second check falls at a random phase within the interval, so
    # each VIM's count is one of two values.
    fewest = GOOD_VIMS * (1 + int((seconds - FIRST_SPREAD - interval) // period))
    most = GOOD_VIMS * (1 + int(seconds // period))
    failed_allowed = _backed_off_logins(seconds, interval)
    per_interval = int(seconds // interval) + 1
    vimwatch_ok = counts["vimwatch_logins"] - counts["vimwatch_failed"]
    figures = [
        Figure(
            "Keystone logins = token renewals",
            f"Keystone issued {counts['keystone_201']} tokens, vimwatch counted "
            f"{vimwatch_ok} logins, for {GOOD_VIMS} VIMs over {seconds:.0f} s "
            f"(tokens live {lifetime} s, checks every {interval:g} s: one login per "
            f"{period:g} s per VIM)",
            f"equal, and {fewest}–{most} (first logins and renewals from the token lifetime)",
            counts["keystone_201"] == vimwatch_ok and fewest <= vimwatch_ok <= most,
            f"{counts['checks']} checks run; {counts['validations']} token validations "
            f"without a login; logins sent {counts['vimwatch_logins']}, answered by "
            f"Keystone {counts['keystone_201'] + counts['keystone_401']}",
        ),
        Figure(
            "failed logins of a wrong password",
            f"Keystone refused {counts['keystone_401']} logins, vimwatch counted "
            f"{counts['vimwatch_failed']} failed, over {seconds:.0f} s",
            f"≤ {failed_allowed} (backing off from one per {interval:g} s interval)",
            counts["keystone_401"] == counts["vimwatch_failed"]
            and 1 <= counts["keystone_401"] <= failed_allowed,
            f"one per interval would be {per_interval}",
        ),
    ]
    save(
        "keystone_logins",
        figures,
        {
            "seconds": seconds,
            "interval": interval,
            "timeout": timeout,
            "token_lifetime": lifetime,
            "renewal_period": period,
            "expected_logins": [fewest, most],
            "failed_logins_allowed": failed_allowed,
            **counts,
        },
        results,
    )
    return figures


def _backed_off_logins(seconds: float, interval: float) -> int:
    """Failed logins a backed-off VIM may make in `seconds`: at 0, 1, 3, 7... intervals
    (the wait doubling from one interval, capped at 15 minutes), plus one for the first
    check's start within FIRST_SPREAD."""
    logins, at, wait = 0, 0.0, interval
    while at <= seconds:
        logins += 1
        at += wait
        wait = min(wait * 2, 900.0)
    return logins + 1


def _measure(
    scratch: Path, seconds: float, interval: float, timeout: float, lifetime: int
) -> dict[str, int]:
    keystone = Keystone(
        ensure_environment("keystone"), scratch / "keystone", token_expiration=lifetime
    )
    keystone.start()
    server = Server(scratch / "vimwatch", env={"VIMWATCH_VALIDATE_VIMS": "false"})
    try:
        accounts = [f"bench_vim_{n}" for n in range(GOOD_VIMS)] + ["bench_wrong"]
        for name in accounts:
            keystone.create_account(name, PASSWORD, "nfv", "member")
        server.start()
        before = _keystone_logins(keystone)
        started = time.monotonic()
        vim_ids = [
            _register(
                server,
                keystone,
                name,
                PASSWORD if name != "bench_wrong" else "not-the-password",
                interval,
                timeout,
            )
            for name in accounts
        ]
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        # Deleting the VIMs ends their checks; once the requests in flight are answered
        # (a timeout at most), both sides have counted the same logins.
        for vim_id in vim_ids:
            server.api("DELETE", f"/v1.0/vims/{vim_id}").raise_for_status()
        time.sleep(timeout + 1.0)
        metrics = server.api("GET", "/metrics").text
        after = _keystone_logins(keystone)
    finally:
        server.stop()
        keystone.stop()
    return {
        "keystone_201": after[201] - before[201],
        "keystone_401": after[401] - before[401],
        "validations": after["validations"] - before["validations"],
        "vimwatch_logins": _metric(metrics, "vimwatch_api_check_logins_total"),
        "vimwatch_failed": _metric(metrics, "vimwatch_api_check_failed_logins_total"),
        "checks": _metric(metrics, "vimwatch_api_check_latency_seconds_count"),
    }


def _register(
    server: Server, keystone: Keystone, name: str, password: str, interval: float, timeout: float
) -> str:
    body = {
        "vim": {
            "name": name,
            "type": "openstack",
            "auth_url": keystone.url,
            "auth_cred": {"username": name, "password": password, "cert_verify": "False"},
            "vim_project": {"name": "nfv", "project_domain_name": "Default"},
            "extra": {
                "monitor": {
                    "checks": ["icmp", "api"],
                    "api": {"interval": interval, "timeout": timeout},
                }
            },
        }
    }
    response = server.api("POST", "/v1.0/vims", json=body)
    response.raise_for_status()
    return str(response.json()["vim"]["id"])


def _keystone_logins(keystone: Keystone) -> dict[object, int]:
    """Keystone's own count, from the uWSGI request log: logins by status, and token
    validations (the check's `GET /v3/auth/tokens`)."""
    counts: dict[object, int] = {201: 0, 401: 0, "validations": 0}
    for line in keystone.log().splitlines():
        if "POST /v3/auth/tokens" in line:
            for status in (201, 401):
                if f"(HTTP/1.1 {status})" in line:
                    counts[status] += 1
        elif "GET /v3/auth/tokens" in line and "(HTTP/1.1 200)" in line:
            counts["validations"] += 1
    return counts


def _metric(text: str, name: str) -> int:
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    return int(float(found[1])) if found else 0
