"""Mistral's write requests, refused: a VIM's workflow, execution, task and action belong
to the VIM, and change only through the VIM API.

Run through Mistral, Tacker itself was the only writer of these records; an operator who
cancelled or deleted a monitor's execution left a VIM whose status froze. vimwatch answers
such a request with Mistral's error body and the command that does what was meant, and
changes nothing. The routes stay out of the OpenAPI document: none of them does anything
a client could build on.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from vimwatch.api.auth import request_context
from vimwatch.api.errors import MistralErrorBody, documented_errors
from vimwatch.context import RequestContext
from vimwatch.errors import Forbidden

router = APIRouter(prefix="/v2", tags=["workflows"], responses=documented_errors(MistralErrorBody))

_STOP = "to stop monitoring a VIM, delete the VIM (openstack vim delete VIM)"
_CHANGE = "to change how a VIM is monitored, update the VIM (openstack vim set VIM)"
_REGISTER = "to monitor a new VIM, register it (openstack vim register), which starts its workflow"


def _refuse(what: str, instead: str) -> None:
    raise Forbidden(
        f"{what} is not allowed: vimwatch manages the workflow of each VIM itself; {instead}"
    )


@router.post("/workflows", status_code=403, include_in_schema=False)
async def create_workflow(_: RequestContext = Depends(request_context)) -> None:
    _refuse("Creating a workflow", _REGISTER)


@router.put("/workflows", status_code=403, include_in_schema=False)
async def update_workflow(_: RequestContext = Depends(request_context)) -> None:
    _refuse("Updating a workflow", _CHANGE)


@router.delete("/workflows/{identifier}", status_code=403, include_in_schema=False)
async def delete_workflow(identifier: str, _: RequestContext = Depends(request_context)) -> None:
    _refuse(f"Deleting workflow {identifier}", _STOP)


@router.post("/executions", status_code=403, include_in_schema=False)
async def create_execution(_: RequestContext = Depends(request_context)) -> None:
    _refuse("Starting an execution", _REGISTER)


@router.put("/executions/{execution_id}", status_code=403, include_in_schema=False)
async def update_execution(execution_id: str, _: RequestContext = Depends(request_context)) -> None:
    _refuse(f"Changing execution {execution_id}", f"{_STOP}; {_CHANGE}")


@router.delete("/executions/{execution_id}", status_code=403, include_in_schema=False)
async def delete_execution(execution_id: str, _: RequestContext = Depends(request_context)) -> None:
    _refuse(f"Deleting execution {execution_id}", _STOP)


@router.put("/tasks/{task_id}", status_code=403, include_in_schema=False)
async def update_task(task_id: str, _: RequestContext = Depends(request_context)) -> None:
    _refuse(f"Re-running task {task_id}", _CHANGE)


@router.post("/action_executions", status_code=403, include_in_schema=False)
async def run_action(_: RequestContext = Depends(request_context)) -> None:
    _refuse("Running an action", _REGISTER)


@router.put("/action_executions/{action_execution_id}", status_code=403, include_in_schema=False)
async def update_action_execution(
    action_execution_id: str, _: RequestContext = Depends(request_context)
) -> None:
    _refuse(f"Changing action execution {action_execution_id}", f"{_STOP}; {_CHANGE}")


@router.delete("/action_executions/{action_execution_id}", status_code=403, include_in_schema=False)
async def delete_action_execution(
    action_execution_id: str, _: RequestContext = Depends(request_context)
) -> None:
    _refuse(f"Deleting action execution {action_execution_id}", _STOP)


@router.post("/actions", status_code=403, include_in_schema=False)
@router.put("/actions", status_code=403, include_in_schema=False)
async def write_action(_: RequestContext = Depends(request_context)) -> None:
    _refuse("Defining an action", "its one action is built in")


@router.delete("/actions/{identifier}", status_code=403, include_in_schema=False)
@router.delete("/actions/{identifier}/{namespace}", status_code=403, include_in_schema=False)
async def delete_action(identifier: str, _: RequestContext = Depends(request_context)) -> None:
    _refuse(f"Deleting action {identifier}", "its one action is built in")
