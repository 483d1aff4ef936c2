"""extra.monitor.checks and extra.monitor.api: what a VIM's task input says of its checks."""

from __future__ import annotations

import pytest

from vimwatch.config import Settings
from vimwatch.context import RequestContext, admin_context
from vimwatch.errors import BadRequest, InvalidConfig
from vimwatch.workflows.definition import check_monitor_floors, monitor_input

VIM_ID = "4f3b1c9e-0000-4000-8000-000000000002"
URL = "http://127.0.0.1/identity/v3"
MEMBER = RequestContext(project_id="project-a")


def task_input(monitor: dict | None = None, **settings: object) -> dict:
    extra = {"monitor": monitor} if monitor is not None else {}
    return monitor_input(VIM_ID, URL, True, extra, Settings(**settings))


def test_a_vim_without_checks_keeps_the_seeds_input() -> None:
    assert set(task_input()) == {
        "vim_id",
        "auth_url",
        "targetip",
        "cert_verify",
        "probe",
        "interval",
        "timeout",
        "down_after",
        "up_after",
    }


def test_checks_with_api_add_the_api_checks_own_pace() -> None:
    given = task_input({"checks": ["api", "tcp"], "api": {"interval": 30, "endpoints": True}})
    assert given["probe"] == "tcp" and given["checks"] == ["tcp", "api"]
    assert given["api"] == {
        "interval": 30,
        "timeout": 10.0,
        "down_after": 1,
        "up_after": 1,
        "endpoints": True,
    }


def test_the_global_default_can_add_the_api_check_to_every_vim() -> None:
    given = task_input(monitor_checks="icmp,api", monitor_probe="http")
    assert given["checks"] == ["http", "api"] and given["api"]["interval"] == 60.0


@pytest.mark.parametrize(
    "monitor",
    [
        {"checks": ["api"]},
        {"checks": ["icmp", "tcp"]},
        {"checks": ["icmp", "icmp"]},
        {"checks": ["icmp", "ldap"]},
        {"checks": ["icmp"], "probe": "tcp"},
        {"checks": ["icmp", "api"], "api": {"interval": 0}},
        {"checks": ["icmp", "api"], "api": {"every": 5}},
    ],
)
def test_malformed_checks_are_refused_with_a_reason(monitor: dict) -> None:
    with pytest.raises(InvalidConfig, match="extra.monitor"):
        task_input(monitor)


def test_an_unknown_global_default_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown check"):
        Settings(monitor_checks="icmp,snmp")


def test_a_non_admin_may_not_check_the_api_more_often_than_the_floor() -> None:
    fast = {"monitor": {"checks": ["icmp", "api"], "api": {"interval": 5}}}
    with pytest.raises(BadRequest, match="api.interval must be at least 30"):
        check_monitor_floors(fast, MEMBER, Settings())
    check_monitor_floors(fast, admin_context(), Settings())
    check_monitor_floors(fast, MEMBER, Settings(monitor_min_api_interval=5))


def test_the_api_check_is_refused_where_mistral_runs_the_monitors() -> None:
    mistral = {
        "workflow_backend": "mistral",
        "mistral_url": "http://127.0.0.1:8989/v2",
        "transport_url": "rabbit://guest:guest@127.0.0.1:5672/",
    }
    with pytest.raises(InvalidConfig, match="api check runs in vimwatch engines"):
        task_input({"checks": ["icmp", "api"]}, **mistral)
    with pytest.raises(ValueError, match="needs the embedded workflow backend"):
        Settings(monitor_checks="icmp,api", **mistral)
