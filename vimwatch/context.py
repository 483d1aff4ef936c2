"""Who is asking: the project and roles every registry query is scoped by.

Carried from the first version so that token and Keystone auth only have to build a
different context, not touch the queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    project_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    user_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def can_see(self, project_id: str) -> bool:
        return self.is_admin or project_id == self.project_id


def admin_context(project_id: str = "default") -> RequestContext:
    """The context of the server's own work (conductor, engine, start-up reconcile)."""
    return RequestContext(project_id=project_id, roles=frozenset({"admin"}))
