"""Registering a fleet in one request: every VIM checked, sealed and recorded as a single
registration would be, then stored all together.

One request per VIM spends most of its time on the request itself and on one transaction
per VIM; here the checks run per VIM (validation against each VIM concurrently), and the
rows go in as a few multi-row INSERTs in one transaction. All or nothing: a fleet file
with one bad entry stores nothing and says which entries are wrong, so it can be fixed
and imported again without leaving half a fleet behind.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from vimwatch.api.schemas import VimCreate
from vimwatch.config import Settings
from vimwatch.context import RequestContext
from vimwatch.drivers import driver_for
from vimwatch.errors import BadRequest, Conflict, VimwatchError
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Event, Vim
from vimwatch.secrets.credentials import seal_credentials
from vimwatch.secrets.keyring import Keyring
from vimwatch.workflows.backends.base import WorkflowBackend
from vimwatch.workflows.definition import monitor_input

LOG = logging.getLogger(__name__)
PENDING = "PENDING"
#: Most VIMs one import request may carry; the CLI sends larger files in several.
MAX_IMPORT = 50_000
_DROPPED_CREDENTIALS = ("id_token", "key_type", "secret_uuid")
_VALIDATORS = 16  # concurrent logins to the VIMs being validated
_SHOWN_PROBLEMS = 10
_CHUNK = 5000


@dataclass
class Prepared:
    """A VIM that passed its checks: the row to insert and its monitor's task input."""

    row: dict[str, Any]
    task_input: dict[str, Any]

    @property
    def monitor(self) -> tuple[str, str, dict[str, Any]]:
        """What a workflow backend takes to monitor it: (vim_id, project_id, task_input)."""
        return self.row["id"], self.row["tenant_id"], self.task_input


def register_many(
    registry: Registry,
    keyring: Keyring,
    backend: WorkflowBackend,
    settings: Settings,
    context: RequestContext,
    requests: list[VimCreate],
) -> list[Prepared]:
    """Store every VIM of `requests` with its workflow records, or none; the caller then
    starts their monitors (`WorkflowBackend.started_new`)."""
    if not requests:
        raise BadRequest("nothing to import: the list of VIMs is empty")
    if len(requests) > MAX_IMPORT:
        raise BadRequest(f"at most {MAX_IMPORT} VIMs per import request, not {len(requests)}")
    _refuse_duplicates(requests, context)
    now = utcnow()
    prepared, problems = [], []
    for index, request in enumerate(requests):
        try:
            # A microsecond apart, so that listings keep the order of the import file.
            created = now + timedelta(microseconds=index)
            prepared.append(prepare(request, context, settings, keyring, created))
        except VimwatchError as exc:
            problems.append(f"vims[{index}] ({request.name}): {exc.message}")
    if not problems and settings.validate_vims:
        problems = _validate(requests, prepared)
    if problems:
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = len(problems) - _SHOWN_PROBLEMS
        raise BadRequest(shown + (f"; and {more} more" if more > 0 else ""))
    rows = [item.row for item in prepared]
    _refuse_taken_names(registry, rows)
    try:
        with registry.transaction() as session:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                session.execute(insert(Vim.__table__), chunk)
                session.execute(insert(Event.__table__), [create_event(row) for row in chunk])
            backend.record_new(session, [item.monitor for item in prepared])
    except IntegrityError:
        raise Conflict(
            "a VIM of this import was registered meanwhile; nothing was stored"
        ) from None
    LOG.info("imported %d VIMs", len(rows))
    return prepared


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
        raise BadRequest("registering a VIM for another project requires the admin role")
    driver = driver_for(request.type)
    driver.check_config(request.auth_url, request.auth_cred, request.vim_project)
    auth_url = driver.normalize_auth_url(request.auth_url)
    vim_id = str(uuid.uuid4())
    extra = request.extra or {}
    cert_verify = request.auth_cred.get("cert_verify", True)
    task_input = monitor_input(vim_id, auth_url, cert_verify, extra, settings)
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


def _validate(requests: list[VimCreate], prepared: list[Prepared]) -> list[str]:
    """Log in to each VIM, several at a time; its placement is recorded as on register."""

    def check(index: int) -> str | None:
        request, item = requests[index], prepared[index]
        try:
            driver = driver_for(request.type)
            item.row["placement_attr"] = driver.validate(
                item.row["auth_url"], request.auth_cred, request.vim_project
            )
        except VimwatchError as exc:
            return f"vims[{index}] ({request.name}): {exc.message}"
        return None

    with ThreadPoolExecutor(_VALIDATORS) as pool:
        return [problem for problem in pool.map(check, range(len(requests))) if problem]


def _refuse_duplicates(requests: list[VimCreate], context: RequestContext) -> None:
    names = Counter((r.tenant_id or context.project_id, r.name) for r in requests)
    repeated = sorted(name for (_, name), count in names.items() if count > 1)
    if repeated:
        raise BadRequest(f"names used more than once in this import: {', '.join(repeated[:10])}")
    defaults = Counter(r.tenant_id or context.project_id for r in requests if r.is_default)
    if any(count > 1 for count in defaults.values()):
        raise BadRequest("more than one default VIM for one project in this import")


def _refuse_taken_names(registry: Registry, rows: list[dict[str, Any]]) -> None:
    taken: list[str] = []
    with registry.reading() as session:
        for tenant_id in {row["tenant_id"] for row in rows}:
            names = [row["name"] for row in rows if row["tenant_id"] == tenant_id]
            for start in range(0, len(names), _CHUNK):
                taken += session.scalars(
                    select(Vim.name).where(
                        Vim.tenant_id == tenant_id,
                        Vim.deleted_at.is_(None),
                        Vim.name.in_(names[start : start + _CHUNK]),
                    )
                )
    if taken:
        raise Conflict(f"VIMs with these names already exist: {', '.join(sorted(taken)[:10])}")


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
