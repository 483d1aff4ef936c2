"""Reading and writing VIM rows, always scoped by the caller's context."""

from __future__ import annotations

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from vimwatch.context import RequestContext
from vimwatch.registry.models import Vim, VimStatusCount

VIM_FILTERS = ("id", "name", "type", "tenant_id", "status", "is_default", "description")
_TRUE = frozenset({"true", "1", "yes", "on"})
_CHUNK = 5000  # below every database's limit on bound parameters


def find_vim(
    session: Session, context: RequestContext, vim_id: str, *, for_update: bool = False
) -> Vim | None:
    """A live VIM the caller may see; None hides both 'absent' and 'another project's'."""
    query = select(Vim).where(Vim.id == vim_id, Vim.deleted_at.is_(None))
    if not context.is_admin:
        query = query.where(Vim.tenant_id == context.project_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def list_vims(
    session: Session,
    context: RequestContext,
    filters: dict[str, list[str]],
    *,
    limit: int | None = None,
    after: Vim | None = None,
) -> list[Vim]:
    """Live VIMs in creation order; `limit` and `after` page by keyset on (created_at,
    id), which the (deleted_at, created_at, id) index serves in constant time however deep
    the page is."""
    query = select(Vim).where(Vim.deleted_at.is_(None)).order_by(Vim.created_at, Vim.id)
    if after is not None:
        # A row-value comparison, which the planner turns into one index range; the
        # equivalent OR of two conditions it served with a range that skipped ties.
        query = query.where(tuple_(Vim.created_at, Vim.id) > tuple_(after.created_at, after.id))
    if limit is not None:
        query = query.limit(limit)
    if not context.is_admin:
        query = query.where(Vim.tenant_id == context.project_id)
    for key, values in filters.items():
        if key == "is_default":
            query = query.where(Vim.is_default.in_([v.lower() in _TRUE for v in values]))
        else:
            query = query.where(getattr(Vim, key).in_(values))
    return list(session.scalars(query))


def count_by_status(session: Session, context: RequestContext, project: str = "") -> dict[str, int]:
    """Live VIMs the caller may see (of `project` only, if given), by status, read from the
    counters the database keeps (a few rows per project) instead of grouping a million
    VIMs; a status no live VIM has is left out, as a GROUP BY over the VIMs would."""
    total = func.sum(VimStatusCount.count)
    query = select(VimStatusCount.status, total).where(VimStatusCount.count > 0)
    if not context.is_admin:
        query = query.where(VimStatusCount.tenant_id == context.project_id)
    if project:
        query = query.where(VimStatusCount.tenant_id == project)
    return {
        status: int(count)
        for status, count in session.execute(query.group_by(VimStatusCount.status))
    }


def live_count(session: Session) -> int:
    """Live VIMs, summed from the per-project counters (a few rows, at any fleet size)."""
    return int(session.scalar(select(func.coalesce(func.sum(VimStatusCount.count), 0))) or 0)


def live_vims(session: Session) -> list[Vim]:
    return list(session.scalars(select(Vim).where(Vim.deleted_at.is_(None))))


def live_vims_among(session: Session, vim_ids: set[str]) -> list[Vim]:
    ordered = sorted(vim_ids)
    return [
        vim
        for start in range(0, len(ordered), _CHUNK)
        for vim in session.scalars(
            select(Vim).where(Vim.deleted_at.is_(None), Vim.id.in_(ordered[start : start + _CHUNK]))
        )
    ]
