"""What a VIM is registered or updated with, as Tacker's clients send it.

Strict on purpose: an unknown or read-only key is an error rather than silently ignored,
so a typo in a config file cannot register a VIM that differs from what the user meant.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vimwatch.services.storable import JsonObject, Text

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

    name: Text = Field(min_length=1, max_length=255)
    type: Literal["openstack", "kubernetes"]
    # 255 once stored: the driver may lengthen it (OpenStack appends /v3), and then the
    # stored form is checked against the column too (services.vim_import.prepare).
    auth_url: Text = Field(min_length=1, max_length=255)
    auth_cred: JsonObject = Field(min_length=1)
    vim_project: JsonObject = Field(min_length=1)
    description: Text = Field(default="", max_length=4096)
    is_default: bool = False
    tenant_id: Text | None = Field(default=None, min_length=1, max_length=64)
    project_id: Text | None = Field(default=None, max_length=64)
    extra: JsonObject | None = None


class VimUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, min_length=1, max_length=255)
    description: Text | None = Field(default=None, max_length=4096)
    is_default: bool | None = None
    auth_cred: JsonObject | None = Field(default=None, min_length=1)
    vim_project: JsonObject | None = Field(default=None, min_length=1)
    extra: JsonObject | None = None

    @model_validator(mode="before")
    @classmethod
    def _reject_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in READ_ONLY:
                if key in data:
                    raise ValueError(f"Cannot update read-only attribute {key}")
        return data
