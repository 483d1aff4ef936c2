"""Server settings, read from a YAML file and then from `VIMWATCH_*` environment variables.

Environment variables win over the file so that one config file can be shared by several
processes while each is nudged (port, state dir) from its unit or test.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from vimwatch.errors import InvalidConfig


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
    monitor_interval: float = Field(default=1.0, gt=0)
    monitor_timeout: float = Field(default=1.0, gt=0)
    monitor_down_after: int = Field(default=3, ge=1)
    monitor_up_after: int = Field(default=1, ge=1)
    monitor_probe: Literal["icmp", "tcp", "http"] = "icmp"
    transport_url: str | None = None
    engine_id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=64)
    lease_ttl: float = Field(default=5.0, gt=0)
    workflow_backend: Literal["embedded", "mistral"] = "embedded"
    mistral_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=9890, ge=0, le=65535)
    default_project: str = "default"
    # Per-VIM series on /metrics: "auto" keeps them up to 1,000 VIMs (vimwatch.metrics).
    metrics_per_vim: bool | Literal["auto"] = "auto"
    # Engine and conductor processes have no HTTP port of their own; with this set they
    # serve /metrics on it (at `host`). The api serves /metrics on its own port.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

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
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidConfig(f"invalid configuration: {problems}") from exc
