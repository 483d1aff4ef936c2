"""Registering, changing and deleting VIMs, and keeping their monitoring in step.

Each public method is one API operation, readable top to bottom. The order of delete is
chosen so that a failure half way never leaves a monitor probing a VIM that is gone: the
monitor and its workflow go first, the VIM row last; a VIM left live without a workflow is
given one again by the next start-up reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from vimwatch.api.schemas import VimCreate, VimUpdate
from vimwatch.config import Settings
from vimwatch.context import RequestContext
from vimwatch.drivers import driver_for
from vimwatch.errors import BadRequest, Conflict, NotFound, VimwatchError
from vimwatch.registry import vims as vim_rows
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.events import record_vim_event
from vimwatch.registry.models import Event, Vim
from vimwatch.secrets.credentials import MASK, open_credentials, seal_credentials
from vimwatch.secrets.keyring import Keyring
from vimwatch.services import vim_import
from vimwatch.workflows.backends.base import WorkflowBackend
from vimwatch.workflows.definition import monitor_input

LOG = logging.getLogger(__name__)
_CREDENTIAL_FORMS = (
    ("oidc_token_url", ("oidc_token_url", "username", "password", "client_id", "client_secret")),
    ("username", ("username", "password")),
    ("bearer_token", ("bearer_token",)),
)


def vim_view(vim: Vim) -> dict[str, Any]:
    """The API's picture of a VIM: Tacker's key set, credentials masked."""
    return {
        "id": vim.id,
        "type": vim.type,
        "tenant_id": vim.tenant_id,
        "name": vim.name,
        "description": vim.description,
        "placement_attr": vim.placement_attr,
        "is_default": vim.is_default,
        "created_at": str(vim.created_at),
        "updated_at": str(vim.updated_at) if vim.updated_at else None,
        "status": vim.status,
        "extra": vim.extra,
        "auth_url": vim.auth_url,
        "vim_project": vim.vim_project,
        "auth_cred": vim.auth_cred,
    }


def _merge_credentials(current: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """Apply an auth_cred change; switching form drops the old form's keys.

    A secret the change leaves out (or sends masked) keeps its stored value, so re-sending
    what `vim show` printed never replaces a password with '***'.
    """
    change = {k: v for k, v in change.items() if v != MASK}
    merged = dict(current)
    for marker, keys in _CREDENTIAL_FORMS:
        if marker in change:
            for _, other_keys in _CREDENTIAL_FORMS:
                for key in other_keys:
                    if key not in keys:
                        merged.pop(key, None)
            break
    merged.update(change)
    return merged


def _integrity_conflict(exc: IntegrityError, name: str) -> Conflict:
    if "default" in str(exc.orig).lower():
        return Conflict("a default VIM already exists in this project")
    return Conflict(f"a VIM named {name!r} already exists in this project")


class VimService:
    def __init__(
        self,
        registry: Registry,
        keyring: Keyring,
        backend: WorkflowBackend,
        settings: Settings,
    ) -> None:
        self._registry = registry
        self._keyring = keyring
        self._backend = backend
        self._settings = settings

    def register(self, context: RequestContext, request: VimCreate) -> dict[str, Any]:
        """The VIM, its CREATE event and (where the backend keeps them in the registry) its
        workflow records are written in one transaction of Core INSERTs: this path runs
        once per VIM, and ORM objects and a second transaction were most of its cost."""
        item = vim_import.prepare(request, context, self._settings, self._keyring, utcnow())
        row = item.row
        if self._settings.validate_vims:
            driver = driver_for(request.type)
            row["placement_attr"] = driver.validate(
                row["auth_url"], request.auth_cred, request.vim_project
            )
        try:
            with self._registry.transaction() as session:
                session.execute(insert(Vim.__table__), [row])
                session.execute(insert(Event.__table__), [vim_import.create_event(row)])
                self._backend.record_new(session, [item.monitor])
        except IntegrityError as exc:
            raise _integrity_conflict(exc, request.name) from None
        LOG.info("registered VIM %s (%s) for project %s", row["id"], request.name, row["tenant_id"])
        self._start_new([item])
        return vim_view(Vim(**row))

    def register_many(
        self, context: RequestContext, requests: list[VimCreate]
    ) -> list[dict[str, Any]]:
        """A fleet in one call, all or nothing; see services.vim_import."""
        imported = vim_import.register_many(
            self._registry, self._keyring, self._backend, self._settings, context, requests
        )
        self._start_new(imported)
        return [vim_import.summary(item) for item in imported]

    def list(
        self,
        context: RequestContext,
        filters: dict[str, list[str]],
        *,
        limit: int | None = None,
        marker: str | None = None,
    ) -> list[dict[str, Any]]:
        """A page of VIMs in creation order, after the VIM `marker` when one is given."""
        with self._registry.reading() as session:
            after = None
            if marker is not None:
                after = vim_rows.find_vim(session, context, marker)
                if after is None:
                    raise BadRequest(f"marker {marker} is not a VIM you can see")
            vims = vim_rows.list_vims(session, context, filters, limit=limit, after=after)
            return [vim_view(vim) for vim in vims]

    def counts(self, context: RequestContext) -> dict[str, int]:
        with self._registry.reading() as session:
            return vim_rows.count_by_status(session, context)

    def show(self, context: RequestContext, vim_id: str) -> dict[str, Any]:
        with self._registry.reading() as session:
            return vim_view(self._find(session, context, vim_id))

    def update(self, context: RequestContext, vim_id: str, request: VimUpdate) -> dict[str, Any]:
        changes = request.model_dump(exclude_unset=True)
        if not changes:
            raise BadRequest("nothing to update: give at least one attribute")
        with self._registry.reading() as session:
            current = self._find(session, context, vim_id)
        driver = driver_for(current.type)
        vim_project = {**current.vim_project, **changes.get("vim_project", {})}
        credentials = open_credentials(current.auth_cred, current.sealed_secrets, self._keyring)
        if "auth_cred" in changes:
            credentials = _merge_credentials(credentials, changes["auth_cred"])
        extra = changes.get("extra", current.extra)
        task_input = monitor_input(
            current.id,
            current.auth_url,
            credentials.get("cert_verify", True),
            extra or {},
            self._settings,
        )
        placement = current.placement_attr
        if "auth_cred" in changes or "vim_project" in changes:
            driver.check_config(current.auth_url, credentials, vim_project)
            if self._settings.validate_vims:
                placement = driver.validate(current.auth_url, credentials, vim_project)
        public_cred, sealed = seal_credentials(credentials, self._keyring)
        now = utcnow()
        try:
            with self._registry.transaction() as session:
                vim = self._find(session, context, vim_id, for_update=True)
                monitor_changed = vim.extra.get("monitor") != (extra or {}).get("monitor")
                vim.name = changes.get("name") or vim.name
                vim.description = changes.get("description", vim.description)
                if request.is_default is not None:
                    vim.is_default = request.is_default
                    vim.default_flag = True if request.is_default else None
                vim.vim_project, vim.auth_cred, vim.sealed_secrets = (
                    vim_project,
                    public_cred,
                    sealed,
                )
                vim.placement_attr, vim.extra, vim.updated_at = placement, extra or {}, now
                session.flush()
                record_vim_event(session, vim, "UPDATE", now)
        except IntegrityError as exc:
            raise _integrity_conflict(exc, changes.get("name", current.name)) from None
        if monitor_changed:
            self._backend.stop_monitoring(vim.id)
            self._start_monitoring(vim.id, vim.tenant_id, task_input)
        return vim_view(vim)

    def delete(self, context: RequestContext, vim_id: str) -> None:
        with self._registry.reading() as session:
            vim = self._find(session, context, vim_id)
        self._backend.stop_monitoring(vim.id)
        now = utcnow()
        with self._registry.transaction() as session:
            vim = self._find(session, context, vim_id, for_update=True)
            vim.deleted_at, vim.tombstone, vim.default_flag = now, vim.id, None
            record_vim_event(session, vim, "DELETE", now)
        # A registration racing this delete may have started monitoring between the first
        # stop and the soft delete; now that the VIM is gone no new start can succeed, so a
        # second stop leaves nothing behind.
        self._backend.stop_monitoring(vim.id)
        LOG.info("deleted VIM %s (%s)", vim.id, vim.name)

    def reconcile_monitoring(self) -> None:
        """Give every live VIM a running monitor and remove the workflows of deleted ones.

        Workflows are listed before VIMs: a registration committed in between then has its
        VIM row read too, so its brand-new workflow is never taken for an orphan.
        """
        with_workflow = self._backend.vims_with_workflow()
        with self._registry.reading() as session:
            live = {vim.id: vim for vim in vim_rows.live_vims(session)}
        for vim_id in with_workflow - live.keys():
            LOG.info("removing the leftover workflow of deleted VIM %s", vim_id)
            self._backend.stop_monitoring(vim_id)
        for vim_id in live.keys() - self._backend.monitored_vims():
            vim = live[vim_id]
            task_input = monitor_input(
                vim.id,
                vim.auth_url,
                vim.auth_cred.get("cert_verify", True),
                vim.extra,
                self._settings,
            )
            LOG.info("starting the missing monitor of VIM %s", vim_id)
            self._start_monitoring(vim.id, vim.tenant_id, task_input)

    def _start_monitoring(self, vim_id: str, project_id: str, task_input: dict[str, Any]) -> None:
        with self._left_to_reconcile(f"VIM {vim_id}"):
            self._backend.start_monitoring(vim_id, project_id, task_input)

    def _start_new(self, items: list[vim_import.Prepared]) -> None:
        """After the commit that stored them; a backend that cannot start them now (Mistral
        down) leaves the VIMs PENDING and stored, and a reconcile finishes the job."""
        what = f"VIM {items[0].row['id']}" if len(items) == 1 else f"{len(items)} new VIMs"
        with self._left_to_reconcile(what):
            self._backend.started_new([item.monitor for item in items])

    @staticmethod
    @contextmanager
    def _left_to_reconcile(what: str) -> Iterator[None]:
        try:
            yield
        except VimwatchError as exc:
            LOG.warning("could not start monitoring %s (%s); reconcile retries", what, exc)
        except Exception:
            LOG.exception("could not start monitoring %s; the next reconcile retries", what)

    @staticmethod
    def _find(session, context: RequestContext, vim_id: str, *, for_update: bool = False) -> Vim:  # noqa: ANN001
        vim = vim_rows.find_vim(session, context, vim_id, for_update=for_update)
        if vim is None:
            raise NotFound(f"VIM {vim_id} not found")
        return vim
