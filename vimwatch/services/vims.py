"""Registering, changing and deleting VIMs, and keeping their monitoring in step.

Each public method is one API operation, readable top to bottom. Whatever can fail comes
before the commit, so that an error answer never leaves its write behind: checks, stopping
a monitor, and building the answer (each write takes an `answer` that turns its result into
what the caller sends back, the API's rendered response). After the commit only monitors
are started, and a failure there is left to the reconcile. The order of delete is chosen so
that a failure half way never leaves a monitor probing a VIM that is gone: the monitor and
its workflow go first, the VIM row last; a VIM left live without a workflow is given one
again by the next reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from vimwatch.config import Settings
from vimwatch.context import RequestContext
from vimwatch.drivers import driver_for
from vimwatch.drivers.kubernetes import FORM_KEYS as CREDENTIAL_FORM_KEYS
from vimwatch.errors import BadRequest, Conflict, NotFound, VimwatchError
from vimwatch.instruments import MONITOR_REPAIRS
from vimwatch.outbound import check_vim_urls, policy_for
from vimwatch.registry import quotas
from vimwatch.registry import vims as vim_rows
from vimwatch.registry.checks import checks_of, delete_checks
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.events import record_vim_event
from vimwatch.registry.models import Vim
from vimwatch.secrets.credentials import MASK, open_credentials, seal_credentials
from vimwatch.secrets.keyring import Keyring
from vimwatch.services import vim_import
from vimwatch.services.tacker_view import shown_auth_cred, without_derived
from vimwatch.services.vim_input import VimCreate, VimUpdate
from vimwatch.workflows.backends.base import WorkflowBackend
from vimwatch.workflows.definition import (
    check_monitor_floors,
    monitor_input,
    vim_monitor_input,
)

LOG = logging.getLogger(__name__)
T = TypeVar("T")


#: Tacker's texts, which scripts written against Tacker match on.
DUPLICATE_NAME = "vim already exist with given ['tenant_id', 'name', 'deleted_at']"


def vim_not_found(vim_id: str) -> NotFound:
    return NotFound(f"Specified VIM id {vim_id} is invalid. Please verify and pass a valid VIM id")


def vim_view(vim: Vim, checks: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's picture of a VIM: Tacker's key set, credentials masked, the fields
    Tacker kept in auth_cred derived from vim_project and auth_url (services.tacker_view),
    and, for a VIM with several checks, the last result of each (`checks`, a key Tacker's
    clients ignore); a VIM without checks keeps exactly the key set it always had."""
    view = {
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
        "auth_cred": shown_auth_cred(vim.type, vim.auth_url, vim.auth_cred, vim.vim_project),
    }
    if checks or ((vim.extra or {}).get("monitor") or {}).get("checks"):
        view["checks"] = checks or {}
    return view


def _merge_credentials(current: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """Apply an auth_cred change; switching form drops the old form's keys.

    A secret the change leaves out (or sends masked) keeps its stored value, so re-sending
    what `vim show` printed never replaces a password with '***'; the fields the view
    derives are not credentials and are never stored.
    """
    change = {k: v for k, v in without_derived(change).items() if v != MASK}
    merged = dict(current)
    for marker, keys in CREDENTIAL_FORM_KEYS:
        if marker in change:
            for _, other_keys in CREDENTIAL_FORM_KEYS:
                for key in other_keys:
                    if key not in keys:
                        merged.pop(key, None)
            break
    merged.update(change)
    return merged


def _as_is(result: Any) -> Any:
    return result


def is_default_clash(exc: IntegrityError) -> bool:
    # By the constraint (PostgreSQL and MariaDB name it, SQLite names its columns): the
    # error text also holds the values, and a project called "default" holds that word.
    reason = str(exc.orig)
    return "uq_vims_one_default" in reason or "vims.default_flag" in reason


def default_vim_exists(registry: Registry, tenant_id: str) -> Conflict:
    """Tacker's answer to a second default VIM, naming the project's live default."""
    with registry.reading() as session:
        current = session.scalar(
            select(Vim.id).where(
                Vim.tenant_id == tenant_id, Vim.default_flag.is_(True), Vim.deleted_at.is_(None)
            )
        )
    return Conflict(f"Default VIM already exists {current}.")


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
        self._outbound = policy_for(tuple(settings.outbound_denied))

    def register(
        self,
        context: RequestContext,
        request: VimCreate,
        answer: Callable[[dict[str, Any]], T] = _as_is,
    ) -> T:
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
                quotas.reserve(session, self._settings, row["tenant_id"], "vims", 1)
                session.execute(insert(vim_import.VIMS), [row])
                session.execute(insert(vim_import.EVENTS), [vim_import.create_event(row)])
                self._backend.record_new(session, [item.monitor])
                reply = answer(vim_view(Vim(**row)))
        except IntegrityError as exc:
            if is_default_clash(exc):
                raise default_vim_exists(self._registry, row["tenant_id"]) from None
            raise Conflict(DUPLICATE_NAME) from None
        LOG.info("registered VIM %s (%s) for project %s", row["id"], request.name, row["tenant_id"])
        self._start_new([item])
        return reply

    def register_many(
        self,
        context: RequestContext,
        requests: list[VimCreate],
        *,
        skip_existing: bool = False,
        # mypy cannot check a default against a type variable (python/mypy#3737).
        answer: Callable[[vim_import.Outcome], T] = vim_import.imported_only,  # type: ignore[assignment]
    ) -> T:
        """A fleet in one call, all or nothing; see services.vim_import."""
        imported, reply = vim_import.register_many(
            self._registry,
            self._keyring,
            self._backend,
            self._settings,
            context,
            requests,
            skip_existing=skip_existing,
            answer=answer,
        )
        if imported:
            self._start_new(imported)
        return reply

    def list_vims(
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
            checks = checks_of(session, (vim.id for vim in vims))
            return [vim_view(vim, checks.get(vim.id)) for vim in vims]

    def counts(self, context: RequestContext) -> dict[str, int]:
        with self._registry.reading() as session:
            return vim_rows.count_by_status(session, context)

    def show(self, context: RequestContext, vim_id: str) -> dict[str, Any]:
        with self._registry.reading() as session:
            vim = self._find(session, context, vim_id)
            return vim_view(vim, checks_of(session, [vim.id]).get(vim.id))

    def update(
        self,
        context: RequestContext,
        vim_id: str,
        request: VimUpdate,
        answer: Callable[[dict[str, Any]], T] = _as_is,
    ) -> T:
        """A changed monitor is stopped before the commit (a failure stores nothing; a VIM
        left without a monitor by a failed commit gets one from the reconcile) and started
        with the new settings after it."""
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
                check_vim_urls(self._outbound, current.auth_url, credentials, context)
                placement = driver.validate(current.auth_url, credentials, vim_project)
        public_cred, sealed = seal_credentials(credentials, self._keyring)
        monitor_changed = current.extra.get("monitor") != (extra or {}).get("monitor")
        if monitor_changed:
            check_monitor_floors(extra or {}, context, self._settings)
            self._backend.stop_monitoring(current.id)
        now = utcnow()
        try:
            with self._registry.transaction() as session:
                vim = self._find(session, context, vim_id, for_update=True)
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
                reply = answer(vim_view(vim, checks_of(session, [vim.id]).get(vim.id)))
        except IntegrityError as exc:
            if is_default_clash(exc):
                raise default_vim_exists(self._registry, current.tenant_id) from None
            raise Conflict(DUPLICATE_NAME) from None
        if monitor_changed:
            self._start_monitoring(vim.id, vim.tenant_id, task_input)
        return reply

    def delete(self, context: RequestContext, vim_id: str) -> None:
        with self._registry.reading() as session:
            vim = self._find(session, context, vim_id)
        self._backend.stop_monitoring(vim.id)
        now = utcnow()
        with self._registry.transaction() as session:
            vim = self._find(session, context, vim_id, for_update=True)
            vim.deleted_at, vim.tombstone, vim.default_flag = now, vim.id, None
            delete_checks(session, vim.id)
            record_vim_event(session, vim, "DELETE", now)
        # A registration racing this delete may have started monitoring between the first
        # stop and the soft delete; now that the VIM is gone no new start can succeed, so a
        # second stop leaves nothing behind (or, failing, leaves it to the reconcile).
        with self._left_to_reconcile(f"stop monitoring deleted VIM {vim.id}"):
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
            LOG.info("starting the missing monitor of VIM %s", vim_id)
            self._restart_monitoring(live[vim_id])

    def repair_ended_monitors(self) -> int:
        """The audit between reconciles, for backends that run no engines (Mistral): a VIM
        whose execution ended behind our back (its monitor killed or given up) gets a
        new one. Cheap at any fleet size: the backend lists only ended executions, which
        stop_monitoring and start_monitoring delete. Returns the VIMs repaired."""
        ended = self._backend.ended_vims()
        if not ended:
            return 0
        with self._registry.reading() as session:
            vims = vim_rows.live_vims_among(session, ended)
        repaired = 0
        for vim in vims:
            if self._restart_monitoring(vim):
                MONITOR_REPAIRS.inc()
                LOG.warning("VIM %s had no running monitor: started a new execution", vim.id)
                repaired += 1
        return repaired

    def _restart_monitoring(self, vim: Vim) -> bool:
        """Start monitoring a registered VIM from its row; whether an execution started."""
        started = False
        with self._left_to_reconcile(f"VIM {vim.id}"):
            task_input = vim_monitor_input(vim, self._settings)
            started = self._backend.start_monitoring(vim.id, vim.tenant_id, task_input)
        return started

    def _start_monitoring(self, vim_id: str, project_id: str, task_input: dict[str, Any]) -> None:
        with self._left_to_reconcile(f"start monitoring VIM {vim_id}"):
            self._backend.start_monitoring(vim_id, project_id, task_input)

    def _start_new(self, items: list[vim_import.Prepared]) -> None:
        """After the commit that stored them; a backend that cannot start them now (Mistral
        down) leaves the VIMs PENDING and stored, and a reconcile finishes the job."""
        what = f"VIM {items[0].row['id']}" if len(items) == 1 else f"{len(items)} new VIMs"
        with self._left_to_reconcile(f"start monitoring {what}"):
            self._backend.started_new([item.monitor for item in items])

    @staticmethod
    @contextmanager
    def _left_to_reconcile(doing: str) -> Iterator[None]:
        try:
            yield
        except VimwatchError as exc:
            LOG.warning("could not %s (%s); reconcile retries", doing, exc)
        except Exception:
            LOG.exception("could not %s; the next reconcile retries", doing)

    @staticmethod
    def _find(session, context: RequestContext, vim_id: str, *, for_update: bool = False) -> Vim:  # noqa: ANN001
        vim = vim_rows.find_vim(session, context, vim_id, for_update=for_update)
        if vim is None:
            raise vim_not_found(vim_id)
        return vim
