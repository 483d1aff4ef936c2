"""The per-VIM workflow: its Mistral DSL v2 text and the input of its one task.

The task input carries literal monitor settings (target, probe kind, thresholds), so the
action needs nothing but its input to run, in the embedded engine or in a Mistral executor.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vimwatch.check_names import API, parse_checks
from vimwatch.config import Settings
from vimwatch.context import RequestContext
from vimwatch.contract import TASK_NAME, workflow_name
from vimwatch.errors import BadRequest, InvalidConfig
from vimwatch.monitor.target import target_from_auth_url
from vimwatch.registry.models import Vim

ACTION = "vimwatch.vim_ping_action"
# Keys written bare (ours all are); any other key is quoted like a value. Starting with a
# lowercase letter keeps a bare key from reading as a number, and the words below are the
# ones YAML 1.1 would read as a boolean or null.
_PLAIN_KEY = re.compile(r"[a-z][a-z0-9]*(?:[_-][A-Za-z0-9]+)*")
_YAML_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null"})
# What JSON leaves raw but a YAML stream must escape (or, past U+FFFF, escape whole: YAML
# reads JSON's surrogate pairs as two lone surrogates).
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_LONGEST_KEY = 1000
# One encoder for every scalar: json.dumps with options builds a new one per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
#: The least probe interval anyone may set, admins too: below it one VIM is a probe flood.
#: A VIM stored with less (before this floor existed) is probed at this interval.
ABSOLUTE_MIN_INTERVAL = 0.01


class ApiOverrides(BaseModel):
    """What a VIM may set under `extra.monitor.api`: its API check's own pace."""

    model_config = ConfigDict(extra="forbid")

    interval: float | None = Field(default=None, gt=0, le=86400)
    timeout: float | None = Field(default=None, gt=0, le=3600)
    down_after: int | None = Field(default=None, ge=1, le=1000)
    up_after: int | None = Field(default=None, ge=1, le=1000)
    # Also ask the compute, network and orchestration endpoints for their version documents.
    endpoints: bool = False


class MonitorOverrides(BaseModel):
    """What a VIM may set under `extra.monitor`."""

    model_config = ConfigDict(extra="forbid")

    probe: Literal["icmp", "tcp", "http"] | None = None
    checks: list[str] | None = Field(default=None, min_length=1, max_length=4)
    api: ApiOverrides | None = None
    interval: float | None = Field(default=None, gt=0, le=3600)
    timeout: float | None = Field(default=None, gt=0, le=3600)
    down_after: int | None = Field(default=None, ge=1, le=1000)
    up_after: int | None = Field(default=None, ge=1, le=1000)

    @model_validator(mode="after")
    def _timeout_fits_interval(self) -> MonitorOverrides:
        if self.interval and self.timeout and self.timeout > self.interval:
            raise ValueError("timeout must not exceed interval")
        return self

    @model_validator(mode="after")
    def _checks_agree(self) -> MonitorOverrides:
        if self.checks is not None:
            self.checks = parse_checks(self.checks)
            if self.probe is not None and self.probe != self.checks[0]:
                raise ValueError(f"probe {self.probe!r} disagrees with checks {self.checks}")
        return self


_NO_OVERRIDES = MonitorOverrides()


def _overrides(extra: dict[str, Any]) -> MonitorOverrides:
    raw = extra.get("monitor") or {}
    if not isinstance(raw, dict):
        raise InvalidConfig("extra.monitor must be a mapping of monitor settings")
    try:
        # Most VIMs override nothing; validating an empty mapping cost every registration.
        return MonitorOverrides(**raw) if raw else _NO_OVERRIDES
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'monitor'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidConfig(f"invalid extra.monitor: {problems}") from exc


def monitor_input(
    vim_id: str, auth_url: str, cert_verify: Any, extra: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The task input for a VIM; InvalidConfig when its extra.monitor is wrong."""
    overrides = _overrides(extra)
    target = target_from_auth_url(auth_url, cert_verify)
    interval = max(overrides.interval or settings.monitor_interval, ABSOLUTE_MIN_INTERVAL)
    if overrides.checks is not None:
        probe, api = overrides.checks[0], API in overrides.checks
    else:
        probe = overrides.probe or settings.monitor_probe
        api = API in settings.monitor_checks.split(",")
    task_input = {
        "vim_id": vim_id,
        "auth_url": target.url,
        "targetip": target.host,
        "cert_verify": target.verify_tls,
        "probe": probe,
        "interval": interval,
        "timeout": min(overrides.timeout or settings.monitor_timeout, interval),
        "down_after": overrides.down_after or settings.monitor_down_after,
        "up_after": overrides.up_after or settings.monitor_up_after,
    }
    if api and settings.workflow_backend == "mistral":
        raise InvalidConfig(
            "extra.monitor.checks: the api check runs in vimwatch engines; "
            "with the mistral workflow backend a VIM has its probe only"
        )
    if api:
        # Only VIMs with an API check carry these keys: the others' input stays the seed's.
        task_input["checks"] = [probe, API]
        task_input["api"] = _api_input(overrides.api or ApiOverrides(), settings)
    return task_input


def _api_input(api: ApiOverrides, settings: Settings) -> dict[str, Any]:
    interval = api.interval or settings.monitor_api_interval
    return {
        "interval": interval,
        "timeout": min(api.timeout or settings.monitor_api_timeout, interval),
        "down_after": api.down_after or 1,
        "up_after": api.up_after or 1,
        "endpoints": api.endpoints,
    }


def check_monitor_floors(
    extra: dict[str, Any], context: RequestContext, settings: Settings
) -> None:
    """Refuse an extra.monitor that would probe too often: below ABSOLUTE_MIN_INTERVAL for
    anyone, below the configured floors for a non-admin. Checked where a caller sets the
    monitor (register, import, update), never on a stored VIM, so a VIM an admin tuned
    keeps its settings when its monitor restarts."""
    overrides = _overrides(extra)
    interval, timeout = overrides.interval, overrides.timeout
    if context.is_admin:
        if interval is not None and interval < ABSOLUTE_MIN_INTERVAL:
            raise BadRequest(
                f"extra.monitor.interval must be at least {ABSOLUTE_MIN_INTERVAL} s, not {interval}"
            )
        return
    # The configured floors are never below the absolute one (vimwatch.config).
    floors: tuple[tuple[str, float | None, float, str], ...] = (
        ("interval", interval, settings.monitor_min_interval, "VIMWATCH_MONITOR_MIN_INTERVAL"),
        ("timeout", timeout, settings.monitor_min_timeout, "VIMWATCH_MONITOR_MIN_TIMEOUT"),
    )
    if overrides.api is not None:
        floors += (
            (
                "api.interval",
                overrides.api.interval,
                settings.monitor_min_api_interval,
                "VIMWATCH_MONITOR_MIN_API_INTERVAL",
            ),
        )
    for key, value, floor, setting in floors:
        if value is not None and value < floor:
            raise BadRequest(
                f"extra.monitor.{key} must be at least {floor} s for a non-admin, not {value}"
                f" (an admin may set less, or lower the floor with {setting})"
            )


def vim_monitor_input(vim: Vim, settings: Settings) -> dict[str, Any]:
    """The task input for a registered VIM, from its row."""
    return monitor_input(
        vim.id, vim.auth_url, vim.auth_cred.get("cert_verify", True), vim.extra, settings
    )


def workflow_definition(
    vim_id: str, task_input: dict[str, Any], *, policies: dict[str, Any] | None = None
) -> str:
    """`policies` are extra task keys (retry, safe-rerun) a backend's engine acts on.

    Written line by line rather than by a YAML emitter: every registration writes one,
    and even libyaml's emitter took 0.13 ms a definition, a quarter of a bulk import.
    Scalars are written as JSON, which YAML reads as the same value (a JSON string is a
    YAML double-quoted scalar), so no value can break out of its line; characters outside
    printable ASCII are written as YAML's \\U escapes.
    """
    task = {"action": ACTION, "input": task_input, **(policies or {})}
    document = {
        "version": "2.0",
        workflow_name(vim_id): {"type": "direct", "tasks": {TASK_NAME: task}},
    }
    return "".join(_block(document, ""))


def _block(mapping: dict[str, Any], indent: str) -> list[str]:
    lines = []
    for key, value in mapping.items():
        text = key if key not in _YAML_WORDS and _PLAIN_KEY.fullmatch(key) else _scalar(key)
        if len(text) > _LONGEST_KEY:
            # YAML reads implicit keys of up to 1,024 characters; a longer one is marked
            # explicit with '?', and its ':' starts the next line.
            lines.append(f"{indent}? {text}\n")
            text = ""
        if isinstance(value, dict) and value:
            lines.append(f"{indent}{text}:\n")
            lines += _block(value, indent + "  ")
        else:
            lines.append(f"{indent}{text}: {_scalar(value)}\n")
    return lines


def _scalar(value: Any) -> str:
    """A value on one line: JSON, except where YAML would read the JSON differently."""
    if isinstance(value, str):
        text = _ENCODE(value)
        return text if text.isascii() and "\x7f" not in text else _UNPRINTABLE.sub(_escape, text)
    if isinstance(value, float):
        # YAML 1.1 reads a float with an exponent but no point (1e+16) as a string.
        text = _ENCODE(value)
        mantissa, exponent, power = text.partition("e")
        return f"{mantissa}.0e{power}" if exponent and "." not in mantissa else text
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"? {_scalar(k)} : {_scalar(v)}" for k, v in value.items()) + "}"
    return _ENCODE(value)


def _escape(match: re.Match[str]) -> str:
    return f"\\U{ord(match[0]):08x}"
