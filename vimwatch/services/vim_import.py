"""Registering a fleet in one request: every VIM checked, sealed and recorded as a single
registration would be, then stored all together.

One request per VIM spends most of its time on the request itself and on one transaction
per VIM; here the checks run per VIM (validation against each VIM concurrently), and the
rows go in as a few multi-row INSERTs in one transaction. All or nothing: a fleet file
with one bad entry stores nothing and says which entries are wrong, so it can be fixed
and imported again without leaving half a fleet behind.

An import cut short (a batch refused, a lost connection) is finished by sending the same
VIMs again with `skip_existing`: names already registered in their project are skipped and
reported rather than refused, so importing twice registers every VIM once. The names are
looked up again inside the storing transaction, so a VIM registered meanwhile is skipped
too rather than failing the import.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import String, Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vimwatch.config import Settings
from vimwatch.context import RequestContext
from vimwatch.contract import PENDING, QuotaKind
from vimwatch.drivers import driver_for
from vimwatch.errors import BadRequest, Conflict, VimwatchError
from vimwatch.outbound import check_vim_urls, policy_for
from vimwatch.registry import quotas
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Event, Vim
from vimwatch.secrets.credentials import seal_credentials
from vimwatch.secrets.keyring import Keyring
from vimwatch.services.vim_input import VimCreate
from vimwatch.workflows.backends.base import WorkflowBackend
from vimwatch.workflows.definition import check_monitor_floors, monitor_input

LOG = logging.getLogger(__name__)
#: Most VIMs one import request may carry; the CLI sends larger files in several.
MAX_IMPORT = 50_000
_DROPPED_CREDENTIALS = ("id_token", "key_type", "secret_uuid")
_VALIDATORS = 16  # concurrent logins to the VIMs being validated
_SHOWN_PROBLEMS = 10
_CHUNK = 5000
# Stores attempted by a skip_existing import that meets names registered meanwhile.
_ATTEMPTS = 3
T = TypeVar("T")
# The tables the imports write with Core inserts (mypy types __table__ as any FromClause).
VIMS, EVENTS = cast(Table, Vim.__table__), cast(Table, Event.__table__)
# auth_url is a String(n): its n is set.
AUTH_URL_LENGTH = cast(int, cast(String, Vim.__table__.c.auth_url.type).length)


@dataclass
class Prepared:
    """A VIM that passed its checks: the row to insert and its monitor's task input."""

    row: dict[str, Any]
    task_input: dict[str, Any]

    @property
    def monitor(self) -> tuple[str, str, dict[str, Any]]:
        """What a workflow backend takes to monitor it: (vim_id, project_id, task_input)."""
        return self.row["id"], self.row["tenant_id"], self.task_input


@dataclass
class Outcome:
    """What an import did: the VIMs it stored and, with skip_existing, those it skipped
    (the registered VIM of that name), each in the order of the request."""

    imported: list[dict[str, Any]]
    skipped: list[dict[str, Any]] = field(default_factory=list)


def imported_only(outcome: Outcome) -> list[dict[str, Any]]:
    return outcome.imported


def register_many(
    registry: Registry,
    keyring: Keyring,
    backend: WorkflowBackend,
    settings: Settings,
    context: RequestContext,
    requests: list[VimCreate],
    *,
    skip_existing: bool = False,
    # mypy cannot check a default against a type variable (python/mypy#3737).
    answer: Callable[[Outcome], T] = imported_only,  # type: ignore[assignment]
) -> tuple[list[Prepared], T]:
    """Store every VIM of `requests` (but those skipped) with its workflow records, or none,
    and build the answer before the commit; the caller then starts the stored VIMs'
    monitors (`WorkflowBackend.started_new`)."""
    if not requests:
        raise BadRequest("nothing to import: the list of VIMs is empty")
    if len(requests) > MAX_IMPORT:
        raise BadRequest(f"at most {MAX_IMPORT} VIMs per import request, not {len(requests)}")
    _refuse_duplicates(requests, context)
    # Skipped VIMs are neither checked nor validated: resuming a large import costs only
    # what is left of it.
    taken: dict[tuple[str, str], dict[str, Any]] = {}
    if skip_existing:
        with registry.reading() as session:
            taken = _registered(session, (_key(request, context) for request in requests))
    wanted = [(i, r) for i, r in enumerate(requests) if _key(r, context) not in taken]
    now = utcnow()
    prepared, problems = [], []
    for index, request in wanted:
        try:
            # A microsecond apart, so that listings keep the order of the import file.
            created = now + timedelta(microseconds=index)
            prepared.append(prepare(request, context, settings, keyring, created))
        except VimwatchError as exc:
            problems.append(f"vims[{index}] ({request.name}): {exc.message}")
    if not problems:
        # Before validation, which logs in to every VIM of the batch.
        with registry.reading() as session:
            _within_quotas(session, settings, prepared, quotas.check)
    if not problems and settings.validate_vims:
        problems = _validate(wanted, prepared)
    if problems:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = len(problems) - _SHOWN_PROBLEMS
        raise BadRequest(shown + (f"; and {more} more" if more > 0 else ""))
    if not skip_existing:
        _refuse_taken_names(registry, [item.row for item in prepared])
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with registry.transaction() as session:
                if skip_existing:
                    taken |= _registered(session, (_row_key(item.row) for item in prepared))
                    prepared = [item for item in prepared if _row_key(item.row) not in taken]
                _within_quotas(session, settings, prepared, quotas.reserve)
                _insert(session, backend, prepared)
                skipped = [taken[key] for r in requests if (key := _key(r, context)) in taken]
                reply = answer(Outcome([summary(item) for item in prepared], skipped))
            break
        except IntegrityError as exc:
            # On PostgreSQL and MariaDB a name committed by another request after this
            # transaction's lookup still collides; looking again finds and skips it.
            if not skip_existing or attempt == _ATTEMPTS or _is_default_conflict(exc):
                raise _import_conflict(exc) from None
    LOG.info("imported %d VIMs, skipped %d already registered", len(prepared), len(skipped))
    return prepared, reply


def _within_quotas(
    session: Session,
    settings: Settings,
    prepared: list[Prepared],
    check: Callable[[Session, Settings, str, QuotaKind, int], None],
) -> None:
    """Each project's VIMs of the batch against its quota, projects in a fixed order so
    that two imports lock the same quota rows in the same order."""
    adding = Counter(item.row["tenant_id"] for item in prepared)
    for project_id in sorted(adding):
        check(session, settings, project_id, "vims", adding[project_id])


def _insert(session: Session, backend: WorkflowBackend, prepared: list[Prepared]) -> None:
    rows = [item.row for item in prepared]
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        session.execute(insert(VIMS), chunk)
        session.execute(insert(EVENTS), [create_event(row) for row in chunk])
    if prepared:
        backend.record_new(session, [item.monitor for item in prepared])


def _is_default_conflict(exc: IntegrityError) -> bool:
    return "default" in str(exc.orig).lower()


def _import_conflict(exc: IntegrityError) -> Conflict:
    if _is_default_conflict(exc):
        return Conflict("a default VIM already exists in this project; nothing was stored")
    return Conflict("a VIM of this import was registered meanwhile; nothing was stored")


def summary(item: Prepared) -> dict[str, Any]:
    """What the import answers for each VIM."""
    row = item.row
    return {"id": row["id"], "name": row["name"], "tenant_id": row["tenant_id"], "status": PENDING}


def prepare(
    request: VimCreate,
    context: RequestContext,
    settings: Settings,
    keyring: Keyring,
    created: datetime,
) -> Prepared:
    """A VIM's checks and sealing, and the row that records it; no writes, no validation."""
    tenant_id = request.tenant_id or context.project_id
    if tenant_id != context.project_id and not context.is_admin:
        # Tacker's text, which scripts written against Tacker match on.
        raise BadRequest(
            "Specifying 'tenant_id' other than authenticated tenant in request requires "
            "admin privileges"
        )
    driver = driver_for(request.type)
    driver.check_config(request.auth_url, request.auth_cred, request.vim_project)
    auth_url = driver.normalize_auth_url(request.auth_url)
    if len(auth_url) > AUTH_URL_LENGTH:
        raise BadRequest(
            f"auth_url must be at most {AUTH_URL_LENGTH} characters as stored"
            f" (normalised, e.g. with /v3 appended, it has {len(auth_url)})"
        )
    if settings.validate_vims:
        check_vim_urls(
            policy_for(tuple(settings.outbound_denied)), auth_url, request.auth_cred, context
        )
    vim_id = str(uuid.uuid4())
    extra = request.extra or {}
    cert_verify = request.auth_cred.get("cert_verify", True)
    task_input = monitor_input(vim_id, auth_url, cert_verify, extra, settings)
    check_monitor_floors(extra, context, settings)
    credentials = {k: v for k, v in request.auth_cred.items() if k not in _DROPPED_CREDENTIALS}
    public_cred, sealed = seal_credentials(credentials, keyring)
    row = {
        "id": vim_id,
        "type": request.type,
        "tenant_id": tenant_id,
        "name": request.name,
        "description": request.description,
        "status": PENDING,
        "auth_url": auth_url,
        "vim_project": request.vim_project,
        "auth_cred": public_cred,
        "sealed_secrets": sealed,
        "placement_attr": None,
        "extra": extra,
        "is_default": request.is_default,
        "default_flag": True if request.is_default else None,
        "tombstone": "",
        "created_at": created,
    }
    return Prepared(row, task_input)


def _validate(wanted: list[tuple[int, VimCreate]], prepared: list[Prepared]) -> list[str]:
    """Log in to each VIM, several at a time; its placement is recorded as on register."""

    def check(position: int) -> str | None:
        (index, request), item = wanted[position], prepared[position]
        try:
            driver = driver_for(request.type)
            item.row["placement_attr"] = driver.validate(
                item.row["auth_url"], request.auth_cred, request.vim_project
            )
        except VimwatchError as exc:
            return f"vims[{index}] ({request.name}): {exc.message}"
        return None

    with ThreadPoolExecutor(_VALIDATORS) as pool:
        return [problem for problem in pool.map(check, range(len(wanted))) if problem]


def _refuse_duplicates(requests: list[VimCreate], context: RequestContext) -> None:
    names = Counter((r.tenant_id or context.project_id, r.name) for r in requests)
    repeated = sorted(name for (_, name), count in names.items() if count > 1)
    if repeated:
        raise BadRequest(f"names used more than once in this import: {', '.join(repeated[:10])}")
    defaults = Counter(r.tenant_id or context.project_id for r in requests if r.is_default)
    if any(count > 1 for count in defaults.values()):
        raise BadRequest("more than one default VIM for one project in this import")


def _key(request: VimCreate, context: RequestContext) -> tuple[str, str]:
    return request.tenant_id or context.project_id, request.name


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    return row["tenant_id"], row["name"]


def _registered(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The live VIMs among (project, name) pairs, as the import reports a skipped one."""
    by_project: dict[str, list[str]] = {}
    for tenant_id, name in keys:
        by_project.setdefault(tenant_id, []).append(name)
    found = {}
    for tenant_id, names in by_project.items():
        for start in range(0, len(names), _CHUNK):
            rows = session.execute(
                select(Vim.id, Vim.name, Vim.tenant_id, Vim.status).where(
                    Vim.tenant_id == tenant_id,
                    Vim.deleted_at.is_(None),
                    Vim.name.in_(names[start : start + _CHUNK]),
                )
            )
            found.update({(row.tenant_id, row.name): dict(row._mapping) for row in rows})
    return found


def _refuse_taken_names(registry: Registry, rows: list[dict[str, Any]]) -> None:
    with registry.reading() as session:
        taken = _registered(session, (_row_key(row) for row in rows))
    if taken:
        names = sorted(name for _, name in taken)
        raise Conflict(f"VIMs with these names already exist: {', '.join(names[:10])}")


def create_event(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "resource_id": row["id"],
        "resource_type": "vim",
        "resource_state": PENDING,
        "event_type": "CREATE",
        "timestamp": row["created_at"],
        "event_details": "",
        "tenant_id": row["tenant_id"],
    }
