"""VimService writes: a VIM, its event and its workflow records commit together, and only
once whatever can fail (the answer included) has succeeded."""

from __future__ import annotations

import select as select_module
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vimwatch.config import Settings
from vimwatch.context import RequestContext
from vimwatch.errors import Conflict, Forbidden, ServiceUnavailable
from vimwatch.registry import workflows as records
from vimwatch.registry.commit_gate import Abandoned, CommitGate
from vimwatch.registry.database import Registry
from vimwatch.registry.models import Event, Execution, Vim, Workflow
from vimwatch.secrets.keyring import Keyring
from vimwatch.services.vim_input import VimCreate, VimUpdate
from vimwatch.services.vims import VimService
from vimwatch.workflows.backends.base import WorkflowBackend
from vimwatch.workflows.definition import workflow_definition

Item = tuple[str, str, dict[str, Any]]
CONTEXT = RequestContext(project_id="project-a")


class _Backend(WorkflowBackend):
    def __init__(self) -> None:
        self.started: list[str] = []

    def stop_monitoring(self, vim_id: str) -> None:
        raise NotImplementedError

    def monitored_vims(self) -> set[str]:
        return set()

    def vims_with_workflow(self) -> set[str]:
        return set()


class RegistryBackend(_Backend):
    """Writes the embedded backend's records in the caller's transaction; records calls."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail

    def record_new(self, session: Session, items: list[Item]) -> None:
        if self.fail:
            raise RuntimeError("the workflow records could not be written")
        records.start_executions(
            session,
            [
                (vim_id, project, workflow_definition(vim_id, ti), ti)
                for vim_id, project, ti in items
            ],
        )

    def started_new(self, items: list[Item]) -> None:
        self.started += [vim_id for vim_id, _, _ in items]

    def start_monitoring(self, vim_id: str, project_id: str, task_input: dict[str, Any]) -> None:
        raise AssertionError("a backend that records in the registry is not asked again")


class RemoteBackend(_Backend):
    """Like Mistral: records live elsewhere, so monitoring starts after the commit; `down`
    makes it unreachable, as Mistral is during a restart."""

    def __init__(self, *, down: bool = False) -> None:
        super().__init__()
        self.down = down

    def start_monitoring(self, vim_id: str, project_id: str, task_input: dict[str, Any]) -> None:
        if self.down:
            raise ServiceUnavailable("Mistral is not answering")
        self.started.append(vim_id)


def _service(registry: Registry, backend: WorkflowBackend, tmp_path: Path) -> VimService:
    settings = Settings(state_dir=tmp_path, validate_vims=False)
    return VimService(registry, Keyring.create(tmp_path / "keys"), backend, settings)


def _vim(name: str) -> VimCreate:
    return VimCreate(
        name=name,
        type="openstack",
        auth_url="http://127.0.0.1/identity",
        auth_cred={"username": "nfv_user", "password": "s3cret"},
        vim_project={"name": "nfv"},
    )


def _count(registry: Registry, model: type) -> int:
    with registry.reading() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_registered_vim_has_its_event_workflow_and_running_execution(
    registry: Registry, tmp_path: Path
) -> None:
    backend = RegistryBackend()
    view = _service(registry, backend, tmp_path).register(CONTEXT, _vim("edge-1"))
    assert view["status"] == "PENDING" and view["auth_cred"]["password"] == "***"
    assert backend.started == [view["id"]]
    with registry.reading() as session:
        assert session.get(Vim, view["id"]).name == "edge-1"
        assert records.vims_running(session) == {view["id"]}
    assert (_count(registry, Event), _count(registry, Workflow)) == (1, 1)


def test_a_failing_workflow_write_stores_no_vim_either(registry: Registry, tmp_path: Path) -> None:
    backend = RegistryBackend(fail=True)
    with pytest.raises(RuntimeError):
        _service(registry, backend, tmp_path).register(CONTEXT, _vim("edge-1"))
    assert [_count(registry, model) for model in (Vim, Event, Workflow, Execution)] == [0] * 4
    assert backend.started == []


def test_a_duplicate_name_is_a_conflict_that_stores_nothing_for_it(
    registry: Registry, tmp_path: Path
) -> None:
    backend = RegistryBackend()
    service = _service(registry, backend, tmp_path)
    first = service.register(CONTEXT, _vim("edge-1"))
    with pytest.raises(Conflict):
        service.register(CONTEXT, _vim("edge-1"))
    assert [_count(registry, model) for model in (Vim, Event, Workflow, Execution)] == [1] * 4
    assert backend.started == [first["id"]]


def test_a_backend_with_records_elsewhere_starts_monitoring_after_the_commit(
    registry: Registry, tmp_path: Path
) -> None:
    backend = RemoteBackend()
    view = _service(registry, backend, tmp_path).register(CONTEXT, _vim("edge-1"))
    assert backend.started == [view["id"]]
    assert (_count(registry, Vim), _count(registry, Workflow)) == (1, 0)


def test_a_backend_that_is_down_leaves_the_vim_stored_and_pending_for_the_reconcile(
    registry: Registry, tmp_path: Path
) -> None:
    backend = RemoteBackend(down=True)
    view = _service(registry, backend, tmp_path).register(CONTEXT, _vim("edge-1"))
    assert view["status"] == "PENDING" and backend.started == []
    with registry.reading() as session:
        assert session.get(Vim, view["id"]).status == "PENDING"


def test_an_import_starts_every_vim_after_its_one_commit_and_answers_even_if_that_fails(
    registry: Registry, tmp_path: Path
) -> None:
    backend = RemoteBackend()
    imported = _service(registry, backend, tmp_path).register_many(
        CONTEXT, [_vim("edge-1"), _vim("edge-2")]
    )
    assert [vim["name"] for vim in imported] == ["edge-1", "edge-2"]
    assert backend.started == [vim["id"] for vim in imported]
    down = _service(registry, RemoteBackend(down=True), tmp_path)
    imported = down.register_many(CONTEXT, [_vim("edge-3")])
    assert [vim["status"] for vim in imported] == ["PENDING"]
    assert _count(registry, Vim) == 3


def test_validation_never_connects_where_the_outbound_policy_denies_a_member(
    registry: Registry, tmp_path: Path
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    request = _vim("internal").model_copy(
        update={"auth_url": f"http://127.0.0.1:{listener.getsockname()[1]}/identity"}
    )
    settings = Settings(state_dir=tmp_path, validate_vims=True)
    service = VimService(registry, Keyring.create(tmp_path / "keys"), RegistryBackend(), settings)
    try:
        with pytest.raises(Forbidden, match="outbound policy"):
            service.register(CONTEXT, request)
        assert select_module.select([listener], [], [], 0.5)[0] == []  # nobody connected
    finally:
        listener.close()
    assert _count(registry, Vim) == 0


def _unsendable(result: object) -> object:
    raise ValueError("the answer cannot be rendered")


def test_an_answer_that_cannot_be_built_stores_nothing(registry: Registry, tmp_path: Path) -> None:
    backend = RegistryBackend()
    service = _service(registry, backend, tmp_path)
    with pytest.raises(ValueError):
        service.register(CONTEXT, _vim("edge-1"), _unsendable)
    with pytest.raises(ValueError):
        service.register_many(CONTEXT, [_vim("edge-2"), _vim("edge-3")], answer=_unsendable)
    assert [_count(registry, model) for model in (Vim, Event, Workflow, Execution)] == [0] * 4
    kept = service.register(CONTEXT, _vim("edge-4"))
    with pytest.raises(ValueError):
        service.update(CONTEXT, kept["id"], VimUpdate(name="renamed"), _unsendable)
    assert service.show(CONTEXT, kept["id"])["name"] == "edge-4"
    assert backend.started == [kept["id"]]


def test_a_request_abandoned_before_its_commit_stores_nothing(
    registry: Registry, tmp_path: Path
) -> None:
    backend = RegistryBackend()
    service = _service(registry, backend, tmp_path)
    gate = CommitGate()

    def abandoned_while_answering(view: dict) -> dict:
        assert gate.abandon()
        return view

    with pytest.raises(Abandoned):
        gate.run(lambda: service.register(CONTEXT, _vim("edge-1"), abandoned_while_answering))
    assert [_count(registry, model) for model in (Vim, Event, Workflow, Execution)] == [0] * 4
    assert backend.started == []
    with pytest.raises(Abandoned):
        gate.run(lambda: service.register(CONTEXT, _vim("edge-1")))
    assert _count(registry, Vim) == 0


def test_a_request_past_its_commit_cannot_be_abandoned(registry: Registry, tmp_path: Path) -> None:
    service = _service(registry, RegistryBackend(), tmp_path)
    gate = CommitGate()
    view = gate.run(lambda: service.register(CONTEXT, _vim("edge-1")))
    assert not gate.abandon()
    assert service.show(CONTEXT, view["id"])["name"] == "edge-1"


def test_an_import_with_skip_existing_skips_and_reports_the_names_already_taken(
    registry: Registry, tmp_path: Path
) -> None:
    backend = RegistryBackend()
    service = _service(registry, backend, tmp_path)
    first = service.register_many(CONTEXT, [_vim("edge-1"), _vim("edge-2")])
    fleet = [_vim("edge-0"), _vim("edge-1"), _vim("edge-2"), _vim("edge-3")]
    with pytest.raises(Conflict):
        service.register_many(CONTEXT, fleet)
    outcome = service.register_many(CONTEXT, fleet, skip_existing=True, answer=lambda o: o)
    assert [vim["name"] for vim in outcome.imported] == ["edge-0", "edge-3"]
    assert [(vim["name"], vim["id"]) for vim in outcome.skipped] == [
        (vim["name"], vim["id"]) for vim in first
    ]
    again = service.register_many(CONTEXT, fleet, skip_existing=True, answer=lambda o: o)
    assert again.imported == [] and len(again.skipped) == 4
    assert _count(registry, Vim) == _count(registry, Execution) == 4
    assert len(backend.started) == 4


def test_concurrent_skip_existing_imports_of_the_same_names_store_each_vim_once(
    registry: Registry, tmp_path: Path
) -> None:
    service = _service(registry, RegistryBackend(), tmp_path)
    fleet = [_vim(f"edge-{n}") for n in range(200)]
    start = threading.Barrier(2)

    def import_fleet(_: int) -> int:
        start.wait()
        outcome = service.register_many(CONTEXT, fleet, skip_existing=True, answer=lambda o: o)
        assert len(outcome.imported) + len(outcome.skipped) == len(fleet)
        return len(outcome.imported)

    with ThreadPoolExecutor(2) as pool:
        imported = list(pool.map(import_fleet, range(2)))
    assert sum(imported) == _count(registry, Vim) == _count(registry, Execution) == 200
