"""Mistral's action views over the embedded engine's records (/v2): the monitor action, and
each VIM's running monitor as the one action execution of its task.

vimwatch keeps no separate action-execution rows: a monitor task runs exactly one action
for as long as it runs, so the action execution is read from the task (same id, same
state) and its input from the execution that started it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.api.errors import MistralErrorBody, documented_errors
from vimwatch.api.listing import project
from vimwatch.api.workflows import Paging, mistral_filters, mistral_time, page_limit
from vimwatch.context import RequestContext
from vimwatch.contract import RUNNING
from vimwatch.errors import NotFound
from vimwatch.registry import workflows as records
from vimwatch.registry.models import Execution, Task
from vimwatch.workflows.definition import ACTION

router = APIRouter(prefix="/v2", tags=["workflows"], responses=documented_errors(MistralErrorBody))
#: The monitor action's input parameters, in Mistral's "a, b, c" form.
_ACTION_INPUT = (
    "vim_id, auth_url, targetip, cert_verify, probe, interval, timeout, down_after, up_after"
)
_ACTION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vimwatch:action:{ACTION}"))
#: The action exists from the moment the server runs its code.
_DEFINED_AT = datetime.now(UTC).replace(tzinfo=None)
#: Filters of `action-execution-list` mapped onto the task they are read from.
_RENAMES = {"task_execution_id": "id", "task_name": "name"}


def action_view() -> dict[str, Any]:
    return {
        "id": _ACTION_ID,
        "name": ACTION,
        "namespace": "",
        "is_system": True,
        "input": _ACTION_INPUT,
        "description": "Probes one VIM until its monitor is stopped and reports each status "
        "change (vimwatch's VIM monitor; runs only as the task of a VIM's workflow).",
        "tags": [],
        "scope": "public",
        "project_id": "<default-project>",
        "created_at": mistral_time(_DEFINED_AT),
        "updated_at": None,
    }


def action_execution_view(task: Task, task_input: str) -> dict[str, Any]:
    running = task.state == RUNNING
    return {
        "id": task.id,
        "name": ACTION,
        "workflow_name": task.workflow_name,
        "workflow_namespace": "",
        "task_name": task.name,
        "task_execution_id": task.id,
        "workflow_execution_id": task.execution_id,
        "state": task.state,
        "state_info": task.state_info,
        # Mistral accepts an action's result when the action ends; a monitor never ends.
        "accepted": not running,
        "description": "",
        "tags": [],
        "params": "{}",
        "input": task_input,
        "output": "{}",
        "project_id": task.project_id,
        "created_at": mistral_time(task.created_at),
        "updated_at": mistral_time(task.updated_at),
    }


def _with_inputs(session: Any, tasks: list[Task]) -> list[dict[str, Any]]:
    ids = {task.execution_id for task in tasks}
    inputs = (
        dict(
            session.execute(
                select(Execution.id, Execution.input).where(Execution.id.in_(ids))
            ).all()
        )
        if ids
        else {}
    )
    return [action_execution_view(task, inputs.get(task.execution_id, "{}")) for task in tasks]


async def _list_action_executions(
    request: Request, context: RequestContext, page: Paging, scope: dict[str, str]
) -> dict[str, Any]:
    filters = {**mistral_filters(request, _RENAMES), **scope}
    if filters.pop("name", ACTION) != ACTION:
        return {"action_executions": []}
    newest_first = (page.sort_dirs or "asc").split(",")[0] == "desc"

    def load() -> list[dict[str, Any]]:
        with request.app.state.registry.reading() as session:
            tasks = records.list_records(
                session,
                context,
                Task,
                filters,
                records.TASK_FILTERS,
                limit=page_limit(page.limit),
                newest_first=newest_first,
                marker=request.query_params.get("marker") or None,
            )
            return _with_inputs(session, tasks)

    fields = [page.fields] if page.fields else []
    items = await run_in_threadpool(load)
    return {"action_executions": [project(item, fields) for item in items]}


@router.get("/action_executions")
async def list_action_executions(
    request: Request,
    context: RequestContext = Depends(request_context),
    page: Paging = Depends(),
) -> dict[str, Any]:
    """`mistral action-execution-list`: one RUNNING action execution per monitored VIM."""
    return await _list_action_executions(request, context, page, {})


@router.get("/tasks/{task_id}/action_executions")
async def list_task_action_executions(
    task_id: str,
    request: Request,
    context: RequestContext = Depends(request_context),
    page: Paging = Depends(),
) -> dict[str, Any]:
    """`mistral action-execution-list <task id>`: the task's one action execution."""
    return await _list_action_executions(request, context, page, {"id": task_id})


@router.get("/action_executions/{action_execution_id}")
async def show_action_execution(
    action_execution_id: str, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    def load() -> dict[str, Any] | None:
        with request.app.state.registry.reading() as session:
            task = records.get_record(session, context, Task, action_execution_id)
            return _with_inputs(session, [task])[0] if task else None

    item = await run_in_threadpool(load)
    if item is None:
        raise NotFound(f"ActionExecution not found [id={action_execution_id}]")
    return item


@router.get("/actions")
async def list_actions(
    request: Request,
    _: RequestContext = Depends(request_context),
    page: Paging = Depends(),
) -> dict[str, Any]:
    """`mistral action-list`: the one action vimwatch's workflows run."""
    name = request.query_params.get("name")
    shown = [] if name not in (None, ACTION, f"eq:{ACTION}") else [action_view()]
    fields = [page.fields] if page.fields else []
    return {"actions": [project(item, fields) for item in shown]}


@router.get("/actions/{identifier}")
@router.get("/actions/{identifier}/", include_in_schema=False)
@router.get("/actions/{identifier}/{namespace}", include_in_schema=False)
async def show_action(
    identifier: str, namespace: str = "", _: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    """`mistral action-get NAME` asks for /actions/NAME/<namespace>, empty by default."""
    if identifier not in (ACTION, _ACTION_ID) or namespace:
        raise NotFound(f"Action not found [name={identifier}, namespace={namespace}]")
    return action_view()
