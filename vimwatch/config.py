"""Server settings, read from a YAML file and then from `VIMWATCH_*` environment variables.

Environment variables win over the file so that one config file can be shared by several
processes while each is nudged (port, state dir) from its unit or test.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from vimwatch.errors import InvalidConfig
from vimwatch.outbound import DEFAULT_DENIED


def _default_state_dir() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "vimwatch"


class Settings(BaseSettings):
    """Everything a vimwatch server process can be told."""

    model_config = SettingsConfigDict(env_prefix="VIMWATCH_", extra="forbid")

    state_dir: Path = Field(default_factory=_default_state_dir)
    database_url: str | None = None
    auth: Literal["noauth", "token", "keystone"] = "noauth"
    keystone_url: str | None = None
    keystone_username: str = "vimwatch"
    keystone_password: SecretStr | None = None
    keystone_project: str = "service"
    keystone_user_domain: str = "Default"
    keystone_project_domain: str = "Default"
    keystone_cache_seconds: float = Field(default=60.0, ge=0)
    validate_vims: bool = True
    monitor_interval: float = Field(default=1.0, ge=0.01)
    monitor_timeout: float = Field(default=1.0, gt=0)
    # The least probe interval and timeout a non-admin may set in a VIM's extra.monitor
    # (vimwatch.workflows.definition): one VIM probed every nanosecond took a core.
    monitor_min_interval: float = Field(default=1.0, ge=0.01)
    monitor_min_timeout: float = Field(default=0.1, gt=0)
    monitor_down_after: int = Field(default=3, ge=1)
    monitor_up_after: int = Field(default=1, ge=1)
    monitor_probe: Literal["icmp", "tcp", "http"] = "icmp"
    # The checks a VIM gets unless its extra.monitor.checks says otherwise, comma-separated:
    # one reachability probe (icmp, tcp or http) and, optionally, `api`, the API check of
    # the VIM's type (vimwatch.monitor.checks). The default is the seed's ICMP alone.
    monitor_checks: str = "icmp"
    # The API check's own pace: a login and a token check per VIM per interval at most.
    monitor_api_interval: float = Field(default=60.0, gt=0, le=86400)
    monitor_api_timeout: float = Field(default=10.0, gt=0, le=3600)
    # The least API check interval a non-admin may set: each check costs the cloud a call.
    monitor_min_api_interval: float = Field(default=30.0, gt=0)
    # API checks one engine runs at once, whatever the fleet's size.
    monitor_api_concurrency: int = Field(default=64, ge=1, le=4096)
    transport_url: str | None = None
    engine_id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=64)
    lease_ttl: float = Field(default=5.0, gt=0)
    workflow_backend: Literal["embedded", "mistral"] = "embedded"
    mistral_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=9890, ge=0, le=65535)
    # On SIGTERM the api stops taking requests and gives those in flight this long to
    # finish; any it then cancels have stored nothing (vimwatch.api.draining).
    shutdown_grace: float = Field(default=20.0, ge=0)
    default_project: str = "default"
    # Per-VIM series on /metrics: "auto" keeps them up to 1,000 VIMs (vimwatch.metrics).
    metrics_per_vim: bool | Literal["auto"] = "auto"
    # Under token or keystone auth, /metrics answers an admin token or this one (for
    # Prometheus's scrape config), and nobody else: it names every project's VIMs.
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    # Networks webhooks and VIM validation may not reach for non-admins (vimwatch.outbound).
    outbound_denied: list[str] = Field(default_factory=lambda: list(DEFAULT_DENIED))
    # Engine and conductor processes have no HTTP port of their own; with this set they
    # serve /metrics on it (at `host`). The api serves /metrics on its own port.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # What one project may hold unless an admin set its own quota (vimwatch.registry.quotas).
    quota_vims: int = Field(default=10_000, ge=0)
    quota_webhooks: int = Field(default=100, ge=0)
    quota_tokens: int = Field(default=100, ge=0)
    # Requests per second each token (in noauth mode, each client address) may make,
    # with bursts of up to rate_burst; admin tokens get rate_limit_admin, or no limit
    # when it is unset (vimwatch.api.rate_limit). A rate_limit of 0 turns limiting off.
    rate_limit: float = Field(default=50.0, ge=0)
    rate_burst: int = Field(default=200, ge=1)
    rate_limit_admin: float | None = Field(default=None, gt=0)
    # Days of events kept; older ones are pruned in batches, each VIM's status in force
    # at the cut-off kept (vimwatch.registry.retention).
    event_retention: float = Field(default=400.0, gt=0)
    # Seconds between refreshes of the fleet's availability summary (the fleet view and
    # /metrics read it) and roll-ups of closed days (vimwatch.roles.availability).
    availability_refresh: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _keystone_needs_credentials(self) -> Settings:
        if self.auth == "keystone" and not (self.keystone_url and self.keystone_password):
            raise ValueError("auth 'keystone' needs keystone_url and keystone_password")
        return self

    @model_validator(mode="after")
    def _mistral_needs_its_urls(self) -> Settings:
        # Mistral's executors reach the conductor only through the broker.
        if self.workflow_backend == "mistral" and not (self.mistral_url and self.transport_url):
            raise ValueError("workflow backend 'mistral' needs mistral_url and transport_url")
        return self

    @model_validator(mode="after")
    def _api_checks_need_engines(self) -> Settings:
        # Mistral's executors run the probe only (vimwatch.hosts.mistral_action).
        if self.workflow_backend == "mistral" and "api" in self.monitor_checks.split(","):
            raise ValueError("monitor_checks 'api' needs the embedded workflow backend")
        return self

    @field_validator("monitor_checks")
    @classmethod
    def _checks(cls, value: str) -> str:
        from vimwatch.check_names import parse_checks

        return ",".join(parse_checks([c.strip() for c in value.split(",") if c.strip()]))

    @field_validator("outbound_denied")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @field_validator("state_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def effective_database_url(self) -> str:
        """SQLite inside the state dir unless a server database is configured."""
        return self.database_url or f"sqlite:///{self.state_dir / 'vimwatch.db'}"

    @property
    def key_dir(self) -> Path:
        return self.state_dir / "keys"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get("VIMWATCH_CONFIG")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings(config_file: str | None = None, **overrides: object) -> Settings:
    """Build settings, turning any mistake in the file or environment into InvalidConfig."""
    from pydantic import ValidationError

    if config_file:
        if not Path(config_file).is_file():
            raise InvalidConfig(f"config file {config_file} does not exist")
        os.environ["VIMWATCH_CONFIG"] = config_file
    try:
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidConfig(f"invalid configuration: {problems}") from exc
