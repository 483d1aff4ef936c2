"""A registry holding a large fleet, written in bulk for benchmarks that need one.

Registering a million VIMs through the API would take the benchmark longer than the
figure it measures; these rows are what registration leaves behind (VIM, CREATE event,
workflow, RUNNING execution and task), inserted with executemany in large chunks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import insert

from vimwatch.contract import RUNNING, TASK_NAME, workflow_name
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Event, Execution, Task, Vim, Workflow

_CHUNK = 10_000


def insert_fleet(
    registry: Registry,
    addresses: Iterable[str],
    *,
    status: str = "REACHABLE",
    project: str = "bench",
    interval: float = 1.0,
    timeout: float = 1.0,
    name: str = "bench",
) -> list[str]:
    """One monitored VIM per address, named `<name>-<n>`; returns their ids in order."""
    ids: list[str] = []
    chunk: list[str] = []
    start = utcnow()
    options = (status, project, interval, timeout, name)
    for address in addresses:
        chunk.append(address)
        if len(chunk) == _CHUNK:
            ids += _insert_chunk(registry, chunk, len(ids), start, *options)
            chunk = []
    if chunk:
        ids += _insert_chunk(registry, chunk, len(ids), start, *options)
    return ids


def _insert_chunk(
    registry: Registry,
    addresses: list[str],
    first: int,
    start: datetime,
    status: str,
    project: str,
    interval: float,
    timeout: float,
    name: str,
) -> list[str]:
    vims, events, workflows, executions, tasks = [], [], [], [], []
    ids = []
    for offset, address in enumerate(addresses):
        number = first + offset
        vim_id = str(uuid.uuid4())
        ids.append(vim_id)
        # Distinct, increasing creation times, as one-by-one registration would leave.
        created = start + timedelta(microseconds=number)
        auth_url = f"http://{address}/identity"
        vims.append(
            {
                "id": vim_id,
                "type": "openstack",
                "tenant_id": project,
                "name": f"{name}-{number}",
                "description": "",
                "status": status,
                "auth_url": auth_url,
                "vim_project": {"name": "nfv"},
                "auth_cred": {"username": "u", "password": "***"},
                "sealed_secrets": "",
                "placement_attr": None,
                "extra": {},
                "is_default": False,
                "default_flag": None,
                "tombstone": "",
                "created_at": created,
            }
        )
        events.append(
            {
                "resource_id": vim_id,
                "resource_type": "vim",
                "resource_state": "PENDING",
                "event_type": "CREATE",
                "timestamp": created,
                "event_details": "",
                "tenant_id": project,
            }
        )
        flow = workflow_name(vim_id)
        workflow_id, execution_id = str(uuid.uuid4()), str(uuid.uuid4())
        task_input = {
            "vim_id": vim_id,
            "auth_url": auth_url,
            "targetip": address,
            "cert_verify": True,
            "probe": "icmp",
            "interval": interval,
            "timeout": timeout,
            "down_after": 3,
            "up_after": 1,
        }
        workflows.append(
            {
                "id": workflow_id,
                "name": flow,
                "vim_id": vim_id,
                "definition": "",
                "project_id": project,
                "created_at": created,
            }
        )
        executions.append(
            {
                "id": execution_id,
                "workflow_id": workflow_id,
                "workflow_name": flow,
                "vim_id": vim_id,
                "state": RUNNING,
                "input": json.dumps(task_input, sort_keys=True),
                "project_id": project,
                "created_at": created,
                "updated_at": created,
            }
        )
        tasks.append(
            {
                "id": str(uuid.uuid4()),
                "name": TASK_NAME,
                "execution_id": execution_id,
                "workflow_id": workflow_id,
                "workflow_name": flow,
                "vim_id": vim_id,
                "state": RUNNING,
                "project_id": project,
                "created_at": created,
                "started_at": created,
                "updated_at": created,
            }
        )
    with registry.transaction() as session:
        for model, rows in (
            (Vim, vims),
            (Event, events),
            (Workflow, workflows),
            (Execution, executions),
            (Task, tasks),
        ):
            session.execute(insert(model.__table__), rows)
    return ids
