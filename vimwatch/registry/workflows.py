"""The embedded engine's records: one workflow per VIM, its executions and their tasks.

They mirror what Mistral would hold, so the same `workflow|execution|task list` commands
show the same story whichever backend runs the monitors.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, delete, insert, select, update
from sqlalchemy.orm import Session

from vimwatch.context import RequestContext
from vimwatch.contract import RUNNING, TASK_NAME, workflow_name
from vimwatch.errors import BadRequest
from vimwatch.registry.database import utcnow
from vimwatch.registry.filters import apply_mistral_filters
from vimwatch.registry.models import Execution, Task, Vim, Workflow

#: The embedded engine's record kinds, which the Mistral-style read API lists alike.
RecordModel = type[Workflow] | type[Execution] | type[Task]

WORKFLOW_FILTERS = frozenset({"id", "name", "project_id", "created_at", "updated_at"})
EXECUTION_FILTERS = frozenset(
    {"id", "workflow_id", "workflow_name", "state", "project_id", "created_at", "updated_at"}
)
TASK_FILTERS = frozenset(
    {
        "id",
        "name",
        "workflow_name",
        "workflow_id",
        "execution_id",
        "state",
        "project_id",
        "created_at",
        "started_at",
        "finished_at",
    }
)


def start_execution(
    session: Session, *, vim_id: str, project_id: str, definition: str, task_input: dict[str, Any]
) -> Execution:
    """Create the VIM's workflow if needed and a RUNNING execution with its RUNNING task."""
    now = utcnow()
    name = workflow_name(vim_id)
    workflow = session.scalars(select(Workflow).where(Workflow.name == name)).first()
    if workflow is None:
        workflow = Workflow(
            id=str(uuid.uuid4()),
            name=name,
            vim_id=vim_id,
            definition=definition,
            project_id=project_id,
            created_at=now,
        )
        session.add(workflow)
    elif workflow.definition != definition:
        workflow.definition, workflow.updated_at = definition, now
    execution = Execution(
        id=str(uuid.uuid4()),
        workflow_id=workflow.id,
        workflow_name=name,
        vim_id=vim_id,
        state=RUNNING,
        input=json.dumps(task_input, sort_keys=True),
        project_id=project_id,
        created_at=now,
        updated_at=now,
    )
    session.add(execution)
    session.add(
        Task(
            id=str(uuid.uuid4()),
            name=TASK_NAME,
            execution_id=execution.id,
            workflow_id=workflow.id,
            workflow_name=name,
            vim_id=vim_id,
            state=RUNNING,
            project_id=project_id,
            created_at=now,
            started_at=now,
            updated_at=now,
        )
    )
    return execution


def start_executions(session: Session, items: list[tuple[str, str, str, dict[str, Any]]]) -> None:
    """What `start_execution` does, for many new VIMs at once: (vim_id, project_id,
    definition, task_input) each. Written as three multi-row INSERTs, since ORM objects
    at ten thousand a request cost more than everything else a bulk import does."""
    now = utcnow()
    workflows, executions, tasks = [], [], []
    for vim_id, project_id, definition, task_input in items:
        name = workflow_name(vim_id)
        workflow_id, execution_id = str(uuid.uuid4()), str(uuid.uuid4())
        common = {"workflow_name": name, "vim_id": vim_id, "project_id": project_id}
        workflows.append(
            {
                "id": workflow_id,
                "name": name,
                "vim_id": vim_id,
                "definition": definition,
                "project_id": project_id,
                "created_at": now,
            }
        )
        executions.append(
            {
                **common,
                "id": execution_id,
                "workflow_id": workflow_id,
                "state": RUNNING,
                "input": json.dumps(task_input, sort_keys=True),
                "created_at": now,
                "updated_at": now,
            }
        )
        tasks.append(
            {
                **common,
                "id": str(uuid.uuid4()),
                "name": TASK_NAME,
                "execution_id": execution_id,
                "workflow_id": workflow_id,
                "state": RUNNING,
                "created_at": now,
                "started_at": now,
                "updated_at": now,
            }
        )
    for model, rows in ((Workflow, workflows), (Execution, executions), (Task, tasks)):
        if rows:
            session.execute(insert(cast(Table, model.__table__)), rows)


def finish_execution(
    session: Session, execution_id: str, state: str, info: str | None = None
) -> None:
    """End one running execution and its task (SUCCESS after a kill, ERROR with a reason).

    By execution, not by VIM: a kill meant for a VIM's previous execution that arrives
    after the next one started must not end the next one.
    """
    now = utcnow()
    session.execute(
        update(Task)
        .where(Task.execution_id == execution_id, Task.state == RUNNING)
        .values(state=state, state_info=info, finished_at=now, updated_at=now)
    )
    session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.state == RUNNING)
        .values(state=state, state_info=info, updated_at=now)
    )


def start_unless_running(
    session: Session, *, vim_id: str, project_id: str, definition: str, task_input: dict[str, Any]
) -> bool:
    """Start the VIM's execution unless it is deleted or already has a running one.

    The VIM's row is locked first, so two starters (a request and an engine's audit, or
    two audits) cannot both start one. Returns whether this call started it.
    """
    live = session.scalars(
        select(Vim.id).where(Vim.id == vim_id, Vim.deleted_at.is_(None)).with_for_update()
    ).first()
    if live is None or running_execution_ids(session, vim_id):
        return False
    start_execution(
        session, vim_id=vim_id, project_id=project_id, definition=definition, task_input=task_input
    )
    return True


def drop_outdated_executions(
    session: Session, vim_id: str, task_input: dict[str, Any]
) -> list[str]:
    """Delete the VIM's running executions whose input is not `task_input`; their ids.

    A VIM whose monitor settings changed must end up monitored with the new ones, even
    when an audit restarted its monitor from the row as it was before the change
    committed. The VIM's row is locked first, as start_unless_running does.
    """
    session.scalars(select(Vim.id).where(Vim.id == vim_id).with_for_update()).first()
    wanted = json.dumps(task_input, sort_keys=True)
    outdated = list(
        session.scalars(
            select(Execution.id).where(
                Execution.vim_id == vim_id, Execution.state == RUNNING, Execution.input != wanted
            )
        )
    )
    if outdated:
        session.execute(delete(Task).where(Task.execution_id.in_(outdated)))
        session.execute(delete(Execution).where(Execution.id.in_(outdated)))
    return outdated


def running_execution_ids(session: Session, vim_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Execution.id).where(Execution.vim_id == vim_id, Execution.state == RUNNING)
        )
    )


def delete_records(session: Session, vim_id: str) -> None:
    session.execute(delete(Task).where(Task.vim_id == vim_id))
    session.execute(delete(Execution).where(Execution.vim_id == vim_id))
    session.execute(delete(Workflow).where(Workflow.vim_id == vim_id))


def execution_ids(session: Session, vim_id: str) -> list[str]:
    """The ids of the VIM's executions, running or ended."""
    return list(session.scalars(select(Execution.id).where(Execution.vim_id == vim_id)))


def vims_with_workflow(session: Session) -> set[str]:
    return set(session.scalars(select(Workflow.vim_id)))


def vims_running(session: Session) -> set[str]:
    return set(session.scalars(select(Execution.vim_id).where(Execution.state == RUNNING)))


def unmonitored_vims(session: Session, limit: int) -> list[Vim]:
    """Live VIMs without a RUNNING execution: an anti-join over VIMs and executions, which
    costs a scan of both at a million rows, so the audit runs it only on a shortfall."""
    running = (
        select(Execution.id).where(Execution.vim_id == Vim.id, Execution.state == RUNNING).exists()
    )
    query = select(Vim).where(Vim.deleted_at.is_(None), ~running).limit(limit)
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class RunningMonitor:
    """What the engine needs to run one VIM's monitor action."""

    vim_id: str
    execution_id: str
    status: str
    task_input: dict[str, Any]
    project_id: str = ""


def running_monitors(session: Session, vim_ids: set[str] | None = None) -> list[RunningMonitor]:
    """RUNNING executions of live VIMs (all, or those of `vim_ids`): monitors to run."""
    query = (
        select(Execution.vim_id, Execution.id, Execution.input, Vim.status, Vim.tenant_id)
        .join(Vim, Vim.id == Execution.vim_id)
        .where(Execution.state == RUNNING, Vim.deleted_at.is_(None))
    )
    if vim_ids is not None:
        query = query.where(Execution.vim_id.in_(vim_ids))
    return [
        RunningMonitor(
            vim_id=row.vim_id,
            execution_id=row.id,
            status=row.status,
            task_input=json.loads(row.input),
            project_id=row.tenant_id,
        )
        for row in session.execute(query)
    ]


def _scoped(query: Select[Any], model: RecordModel, context: RequestContext) -> Select[Any]:
    return query if context.is_admin else query.where(model.project_id == context.project_id)


def list_records(
    session: Session,
    context: RequestContext,
    model: RecordModel,
    filters: dict[str, str],
    allowed: frozenset[str],
    *,
    limit: int | None = None,
    newest_first: bool = False,
    marker: str | None = None,
) -> list[Any]:
    """Records in creation order (or newest first); `marker`, the id of the last record of
    the previous page, pages by keyset so a deep page costs what the first one does."""
    query: Select[Any]
    if newest_first:
        query = select(model).order_by(model.created_at.desc(), model.id.desc())
    else:
        query = select(model).order_by(model.created_at.asc(), model.id.asc())
    query = apply_mistral_filters(_scoped(query, model, context), model, filters, allowed)
    if marker is not None:
        anchor = get_record(session, context, model, marker)
        if anchor is None:
            raise BadRequest(f"marker {marker} is not a visible {model.__name__.lower()}")
        later = (
            (model.created_at < anchor.created_at)
            | ((model.created_at == anchor.created_at) & (model.id < anchor.id))
            if newest_first
            else (model.created_at > anchor.created_at)
            | ((model.created_at == anchor.created_at) & (model.id > anchor.id))
        )
        query = query.where(later)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def get_workflow(session: Session, context: RequestContext, identifier: str) -> Workflow | None:
    query = select(Workflow).where((Workflow.id == identifier) | (Workflow.name == identifier))
    return session.scalars(_scoped(query, Workflow, context)).first()


def get_record(
    session: Session, context: RequestContext, model: RecordModel, record_id: str
) -> Any:
    # mypy joins the three models to their Base; each of them has project_id.
    record = cast("Workflow | Execution | Task | None", session.get(model, record_id))
    if record is None or not context.can_see(record.project_id):
        return None
    return record
