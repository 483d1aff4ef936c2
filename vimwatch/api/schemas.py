"""Request bodies of the VIM API: Tacker's clients wrap the VIM in a `vim` key."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from vimwatch.services.vim_input import VimCreate, VimUpdate


class VimCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vim: VimCreate


class VimUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vim: VimUpdate
