"""A Mistral-compatible read API over the embedded engine's records (/v2).

python-mistralclient reads every key it formats without defaults, and parses timestamps
with '%Y-%m-%d %H:%M:%S', so the views carry Mistral's full key set in that format.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from vimwatch.api.auth import request_context
from vimwatch.api.errors import MistralErrorBody, documented_errors
from vimwatch.api.listing import project
from vimwatch.context import RequestContext
from vimwatch.contract import RUNNING
from vimwatch.errors import BadRequest, NotFound
from vimwatch.registry import workflows as records
from vimwatch.registry.models import Execution, Task, Workflow

router = APIRouter(prefix="/v2", tags=["workflows"], responses=documented_errors(MistralErrorBody))
MAX_LIMIT = 1000
_PAGING = frozenset({"limit", "marker", "sort_keys", "sort_dirs", "fields"})
_NAMESPACE_KEYS = frozenset({"namespace", "workflow_namespace"})


def mistral_time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def workflow_view(workflow: Workflow) -> dict[str, Any]:
    return {
        "id": workflow.id,
        "name": workflow.name,
        "namespace": "",
        "definition": workflow.definition,
        "input": "",
        "interface": json.dumps({"input": [], "output": []}),
        "tags": [],
        "scope": "private",
        "project_id": workflow.project_id,
        "created_at": mistral_time(workflow.created_at),
        "updated_at": mistral_time(workflow.updated_at),
    }


def execution_view(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "workflow_id": execution.workflow_id,
        "workflow_name": execution.workflow_name,
        "workflow_namespace": "",
        "description": "",
        "task_execution_id": None,
        "root_execution_id": None,
        "state": execution.state,
        "state_info": execution.state_info,
        "tags": [],
        "params": "{}",
        "input": execution.input,
        "output": "{}",
        "project_id": execution.project_id,
        "created_at": mistral_time(execution.created_at),
        "updated_at": mistral_time(execution.updated_at),
    }


def task_view(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "type": "ACTION",
        "workflow_id": task.workflow_id,
        "workflow_name": task.workflow_name,
        "workflow_namespace": "",
        "workflow_execution_id": task.execution_id,
        "state": task.state,
        "state_info": task.state_info,
        "tags": [],
        "project_id": task.project_id,
        "runtime_context": "{}",
        "published": "{}",
        # A monitor task runs until it is stopped, so it never has a result to show.
        "result": "{}",
        "processed": task.state != RUNNING,
        "created_at": mistral_time(task.created_at),
        "started_at": mistral_time(task.started_at),
        "finished_at": mistral_time(task.finished_at),
        "updated_at": mistral_time(task.updated_at),
    }


def mistral_filters(request: Request, renames: dict[str, str]) -> dict[str, str]:
    """Query parameters other than paging become Mistral filters; namespaces are all ''."""
    filters = {}
    for key, value in request.query_params.items():
        if key in _PAGING:
            continue
        if key in _NAMESPACE_KEYS:
            if value not in ("", "eq:"):
                raise BadRequest("only the default namespace '' exists here")
            continue
        filters[renames.get(key, key)] = value
    return filters


def page_limit(limit: int | None) -> int:
    if limit is not None and limit < 1:
        raise BadRequest("limit must be a positive integer")
    return min(limit or MAX_LIMIT, MAX_LIMIT)


@dataclass(frozen=True)
class Paging:
    """The paging and projection parameters every /v2 list takes, declared once."""

    limit: int | None = Query(default=None)
    sort_dirs: str | None = Query(default=None)
    fields: str | None = Query(default=None)


async def _list(
    request: Request,
    context: RequestContext,
    model: records.RecordModel,
    allowed: frozenset[str],
    view: Callable[[Any], dict[str, Any]],
    page: Paging,
    *,
    renames: dict[str, str] | None = None,
    scope: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    filters = {**mistral_filters(request, renames or {}), **(scope or {})}
    newest_first = (page.sort_dirs or "asc").split(",")[0] == "desc"

    def load() -> list[dict[str, Any]]:
        with request.app.state.registry.reading() as session:
            rows = records.list_records(
                session,
                context,
                model,
                filters,
                allowed,
                limit=page_limit(page.limit),
                newest_first=newest_first,
                marker=request.query_params.get("marker") or None,
            )
            return [view(row) for row in rows]

    fields = [page.fields] if page.fields else []
    return [project(item, fields) for item in await run_in_threadpool(load)]


@router.get("/workflows")
async def list_workflows(
    request: Request,
    context: RequestContext = Depends(request_context),
    page: Paging = Depends(),
) -> dict[str, Any]:
    items = await _list(
        request,
        context,
        Workflow,
        records.WORKFLOW_FILTERS,
        workflow_view,
        page,
    )
    return {"workflows": items}


@router.get("/workflows/{identifier}")
async def show_workflow(
    identifier: str, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    def load() -> dict[str, Any] | None:
        with request.app.state.registry.reading() as session:
            workflow = records.get_workflow(session, context, identifier)
            return workflow_view(workflow) if workflow else None

    workflow = await run_in_threadpool(load)
    if workflow is None:
        raise NotFound(f"Workflow not found [workflow_identifier={identifier}, namespace=]")
    return workflow


@router.get("/executions")
async def list_executions(
    request: Request,
    context: RequestContext = Depends(request_context),
    page: Paging = Depends(),
) -> dict[str, Any]:
    items = await _list(
        request,
        context,
        Execution,
        records.EXECUTION_FILTERS,
        execution_view,
        page,
    )
    return {"executions": items}


@router.get("/tasks")
async def list_tasks(
    request: Request,
    context: RequestContext = Depends(request_context),
    page: Paging = Depends(),
) -> dict[str, Any]:
    items = await _list(
        request,
        context,
        Task,
        records.TASK_FILTERS,
        task_view,
        page,
        renames={"workflow_execution_id": "execution_id"},
    )
    return {"tasks": items}


@router.get("/executions/{execution_id}/tasks")
async def list_execution_tasks(
    execution_id: str,
    request: Request,
    context: RequestContext = Depends(request_context),
    page: Paging = Depends(),
) -> dict[str, Any]:
    """The tasks of one execution: what `mistral task-list <execution id>` asks for."""
    items = await _list(
        request,
        context,
        Task,
        records.TASK_FILTERS,
        task_view,
        page,
        renames={"workflow_execution_id": "execution_id"},
        scope={"execution_id": execution_id},
    )
    return {"tasks": items}


async def _show(
    request: Request,
    context: RequestContext,
    model: records.RecordModel,
    record_id: str,
    view: Callable,
) -> dict[str, Any]:
    def load() -> dict[str, Any] | None:
        with request.app.state.registry.reading() as session:
            record = records.get_record(session, context, model, record_id)
            return view(record) if record else None

    item = await run_in_threadpool(load)
    if item is None:
        raise NotFound(f"{model.__name__} not found [id={record_id}]")
    return item


@router.get("/executions/{execution_id}")
async def show_execution(
    execution_id: str, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    return await _show(request, context, Execution, execution_id, execution_view)


@router.get("/tasks/{task_id}")
async def show_task(
    task_id: str, request: Request, context: RequestContext = Depends(request_context)
) -> dict[str, Any]:
    return await _show(request, context, Task, task_id, task_view)
