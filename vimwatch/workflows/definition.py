"""The per-VIM workflow: its Mistral DSL v2 text and the input of its one task.

The task input carries literal monitor settings (target, probe kind, thresholds), so the
action needs nothing but its input to run, in the embedded engine or in a Mistral executor.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vimwatch.config import Settings
from vimwatch.errors import InvalidConfig
from vimwatch.monitor.target import target_from_auth_url
from vimwatch.registry.workflows import TASK_NAME, workflow_name

ACTION = "vimwatch.vim_ping_action"
# libyaml's emitter writes the same text four times faster than the pure-Python one, which
# showed up in every registration's profile; the latter stays as the fallback.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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


def monitor_input(
    vim_id: str, auth_url: str, cert_verify: Any, extra: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The task input for a VIM; InvalidConfig when its extra.monitor is wrong."""
    raw = extra.get("monitor") or {}
    if not isinstance(raw, dict):
        raise InvalidConfig("extra.monitor must be a mapping of monitor settings")
    try:
        overrides = MonitorOverrides(**raw)
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
    """`policies` are extra task keys (retry, safe-rerun) a backend's engine acts on."""
    name = workflow_name(vim_id)
    task = {"action": ACTION, "input": task_input, **(policies or {})}
    document = {"version": "2.0", name: {"type": "direct", "tasks": {TASK_NAME: task}}}
    return yaml.dump(document, Dumper=_DUMPER, default_flow_style=False, sort_keys=False)
