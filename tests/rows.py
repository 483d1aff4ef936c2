"""Registry rows written directly, for tests of the layers beneath the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from vimwatch.registry.database import utcnow
from vimwatch.registry.models import Vim


def vim_row(vim_id: str, tenant: str = "p", status: str = "PENDING") -> dict[str, Any]:
    """A live VIM's columns, as a Core INSERT or the Vim model takes them."""
    return {
        "id": vim_id,
        "type": "openstack",
        "tenant_id": tenant,
        "name": vim_id,
        "description": "",
        "status": status,
        "auth_url": "http://127.0.0.1/v3",
        "vim_project": {},
        "auth_cred": {},
        "sealed_secrets": "",
        "extra": {},
        "is_default": False,
        "tombstone": "",
        "created_at": utcnow(),
    }


def insert_vim(session: Session, vim_id: str, status: str = "PENDING") -> Vim:
    vim = Vim(**vim_row(vim_id, status=status))
    session.add(vim)
    return vim
