"""The stored last result of each check of VIMs with several checks, for their views.

The engine writes them in batches, and only when a check's state or reason changed or its
stored result has grown old, so a fleet of passing VIMs costs the database a row per VIM
per minute, not one per probe. Rows of deleted VIMs are never written (the VIM is locked
while its rows are) and are removed with the VIM.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vimwatch.registry.models import Vim, VimCheck

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class CheckRecord:
    vim_id: str
    name: str
    state: str
    reason: str
    latency: float | None
    last_success: datetime | None
    last_failure: datetime | None


def write_checks(session: Session, records: list[CheckRecord], now: datetime) -> None:
    """Store the records of live VIMs (those of a VIM deleted meanwhile are dropped)."""
    for start in range(0, len(records), _CHUNK):
        chunk = records[start : start + _CHUNK]
        ids = sorted({record.vim_id for record in chunk})
        live = set(
            session.scalars(
                select(Vim.id).where(Vim.id.in_(ids), Vim.deleted_at.is_(None)).with_for_update()
            )
        )
        chunk = [record for record in chunk if record.vim_id in live]
        if not chunk:
            continue
        for record in chunk:
            session.execute(
                delete(VimCheck).where(
                    VimCheck.vim_id == record.vim_id, VimCheck.name == record.name
                )
            )
        session.add_all(
            VimCheck(
                vim_id=record.vim_id,
                name=record.name,
                state=record.state,
                reason=record.reason,
                latency=record.latency,
                last_success=record.last_success,
                last_failure=record.last_failure,
                updated_at=now,
            )
            for record in chunk
        )


def delete_checks(session: Session, vim_id: str) -> None:
    session.execute(delete(VimCheck).where(VimCheck.vim_id == vim_id))


def checks_of(session: Session, vim_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The `checks` object of each VIM's view, by VIM id (VIMs without rows absent)."""
    ordered = sorted(set(vim_ids))
    views: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ordered), _CHUNK):
        rows = session.scalars(
            select(VimCheck).where(VimCheck.vim_id.in_(ordered[start : start + _CHUNK]))
        )
        for row in rows:
            views.setdefault(row.vim_id, {})[row.name] = {
                "state": row.state,
                "last_success": _text(row.last_success),
                "last_failure": _text(row.last_failure),
                "reason": row.reason,
                "latency": row.latency,
                "updated_at": _text(row.updated_at),
            }
    return views


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else str(moment)
