"""Request bodies of the VIM API, as Tacker's clients send them.

Strict on purpose: an unknown or read-only key is an error rather than silently ignored,
so a typo in a config file cannot register a VIM that differs from what the user meant.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

READ_ONLY = (
    "id",
    "type",
    "auth_url",
    "tenant_id",
    "status",
    "placement_attr",
    "created_at",
    "updated_at",
    "shared",
)


class VimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    type: Literal["openstack", "kubernetes"]
    auth_url: str = Field(min_length=1, max_length=255)
    auth_cred: dict[str, Any] = Field(min_length=1)
    vim_project: dict[str, Any] = Field(min_length=1)
    description: str = Field(default="", max_length=4096)
    is_default: bool = False
    tenant_id: str | None = Field(default=None, min_length=1, max_length=64)
    project_id: str | None = Field(default=None, max_length=64)
    extra: dict[str, Any] | None = None


class VimUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=4096)
    is_default: bool | None = None
    auth_cred: dict[str, Any] | None = Field(default=None, min_length=1)
    vim_project: dict[str, Any] | None = Field(default=None, min_length=1)
    extra: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _reject_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in READ_ONLY:
                if key in data:
                    raise ValueError(f"Cannot update read-only attribute {key}")
        return data


class VimCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vim: VimCreate


class VimUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vim: VimUpdate
