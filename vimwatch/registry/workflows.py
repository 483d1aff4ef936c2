"""The embedded engine's records: one workflow per VIM, its executions and their tasks.

They mirror what Mistral would hold, so the same `workflow|execution|task list` commands
show the same story whichever backend runs the monitors.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from vimwatch.context import RequestContext
from vimwatch.errors import BadRequest
from vimwatch.registry.database import utcnow
from vimwatch.registry.filters import apply_mistral_filters
from vimwatch.registry.models import Execution, Task, Vim, Workflow

RUNNING, SUCCESS, ERROR = "RUNNING", "SUCCESS", "ERROR"
TASK_NAME = "monitor_ping_vimPingVIMTASK"

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


def workflow_name(vim_id: str) -> str:
    return f"vim_id_{vim_id}"


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
            session.execute(insert(model.__table__), rows)


def finish_execution(session: Session, vim_id: str, state: str, info: str | None = None) -> None:
    """End the VIM's running execution and task (SUCCESS after a kill, ERROR with a reason)."""
    now = utcnow()
    session.execute(
        update(Task)
        .where(Task.vim_id == vim_id, Task.state == RUNNING)
        .values(state=state, state_info=info, finished_at=now, updated_at=now)
    )
    session.execute(
        update(Execution)
        .where(Execution.vim_id == vim_id, Execution.state == RUNNING)
        .values(state=state, state_info=info, updated_at=now)
    )


def delete_records(session: Session, vim_id: str) -> None:
    session.execute(delete(Task).where(Task.vim_id == vim_id))
    session.execute(delete(Execution).where(Execution.vim_id == vim_id))
    session.execute(delete(Workflow).where(Workflow.vim_id == vim_id))


def vims_with_workflow(session: Session) -> set[str]:
    return set(session.scalars(select(Workflow.vim_id)))


def vims_running(session: Session) -> set[str]:
    return set(session.scalars(select(Execution.vim_id).where(Execution.state == RUNNING)))


@dataclass(frozen=True, slots=True)
class RunningMonitor:
    """What the engine needs to run one VIM's monitor action."""

    vim_id: str
    status: str
    task_input: dict[str, Any]


def running_monitors(session: Session, vim_ids: set[str] | None = None) -> list[RunningMonitor]:
    """RUNNING executions of live VIMs (all, or those of `vim_ids`): monitors to run."""
    query = (
        select(Execution.vim_id, Execution.input, Vim.status)
        .join(Vim, Vim.id == Execution.vim_id)
        .where(Execution.state == RUNNING, Vim.deleted_at.is_(None))
    )
    if vim_ids is not None:
        query = query.where(Execution.vim_id.in_(vim_ids))
    return [
        RunningMonitor(vim_id=row.vim_id, status=row.status, task_input=json.loads(row.input))
        for row in session.execute(query)
    ]


def _scoped(query, model: type, context: RequestContext):  # noqa: ANN001, ANN202
    return query if context.is_admin else query.where(model.project_id == context.project_id)


def list_records(
    session: Session,
    context: RequestContext,
    model: type,
    filters: dict[str, str],
    allowed: frozenset[str],
    *,
    limit: int | None = None,
    newest_first: bool = False,
    marker: str | None = None,
) -> list[Any]:
    """Records in creation order (or newest first); `marker`, the id of the last record of
    the previous page, pages by keyset so a deep page costs what the first one does."""
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


def get_record(session: Session, context: RequestContext, model: type, record_id: str) -> Any:
    record = session.get(model, record_id)
    if record is None or not context.can_see(record.project_id):
        return None
    return record
