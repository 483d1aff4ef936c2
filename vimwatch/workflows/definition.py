"""The per-VIM workflow: its Mistral DSL v2 text and the input of its one task.

The task input carries literal monitor settings (target, probe kind, thresholds), so the
action needs nothing but its input to run, in the embedded engine or in a Mistral executor.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vimwatch.config import Settings
from vimwatch.errors import InvalidConfig
from vimwatch.monitor.target import target_from_auth_url
from vimwatch.registry.workflows import TASK_NAME, workflow_name

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


class MonitorOverrides(BaseModel):
    """What a VIM may set under `extra.monitor`."""

    model_config = ConfigDict(extra="forbid")

    probe: Literal["icmp", "tcp", "http"] | None = None
    interval: float | None = Field(default=None, gt=0, le=3600)
    timeout: float | None = Field(default=None, gt=0, le=3600)
    down_after: int | None = Field(default=None, ge=1, le=1000)
    up_after: int | None = Field(default=None, ge=1, le=1000)

    @model_validator(mode="after")
    def _timeout_fits_interval(self) -> MonitorOverrides:
        if self.interval and self.timeout and self.timeout > self.interval:
            raise ValueError("timeout must not exceed interval")
        return self


_NO_OVERRIDES = MonitorOverrides()


def monitor_input(
    vim_id: str, auth_url: str, cert_verify: Any, extra: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The task input for a VIM; InvalidConfig when its extra.monitor is wrong."""
    raw = extra.get("monitor") or {}
    if not isinstance(raw, dict):
        raise InvalidConfig("extra.monitor must be a mapping of monitor settings")
    try:
        # Most VIMs override nothing; validating an empty mapping cost every registration.
        overrides = MonitorOverrides(**raw) if raw else _NO_OVERRIDES
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'monitor'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidConfig(f"invalid extra.monitor: {problems}") from exc
    target = target_from_auth_url(auth_url, cert_verify)
    interval = overrides.interval or settings.monitor_interval
    return {
        "vim_id": vim_id,
        "auth_url": target.url,
        "targetip": target.host,
        "cert_verify": target.verify_tls,
        "probe": overrides.probe or settings.monitor_probe,
        "interval": interval,
        "timeout": min(overrides.timeout or settings.monitor_timeout, interval),
        "down_after": overrides.down_after or settings.monitor_down_after,
        "up_after": overrides.up_after or settings.monitor_up_after,
    }


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
