"""Showing and setting a project's quotas: a member reads its own, an admin any and sets
them (the limits themselves are enforced where things are written, vimwatch.registry.quotas)."""

from __future__ import annotations

from typing import Any

from vimwatch.config import Settings
from vimwatch.context import RequestContext
from vimwatch.errors import BadRequest, Forbidden
from vimwatch.registry import quotas
from vimwatch.registry.database import Registry


def show(
    registry: Registry, settings: Settings, context: RequestContext, project_id: str
) -> dict[str, Any]:
    if not context.can_see(project_id):
        raise Forbidden("only an admin may see another project's quota")
    with registry.reading() as session:
        return {
            "project_id": project_id,
            **quotas.limits(session, project_id, settings),
            "usage": quotas.usage(session, project_id),
        }


def update(
    registry: Registry,
    settings: Settings,
    context: RequestContext,
    project_id: str,
    changes: dict[str, int | None],
) -> dict[str, Any]:
    """`changes` maps a kind to its new limit, or to None for the configured default."""
    if not context.is_admin:
        raise Forbidden("setting a quota requires the admin role")
    if not changes:
        raise BadRequest("nothing to update: give at least one of vims, webhooks, tokens")
    with registry.transaction() as session:
        quotas.set_quota(session, project_id, changes)
    return show(registry, settings, context, project_id)
