"""The mistral backend: each VIM's workflow lives in a real OpenStack Mistral.

Mistral's executors run the monitor actions (`vimwatch.vim_ping_action`), on as many
machines as the operator runs executors. This backend talks to Mistral's REST API through
python-mistralclient without Keystone (Mistral's auth is off, as in Tacker's set-up) and
casts kills on the broker.

Mistral may be unreachable. Then start_monitoring raises ServiceUnavailable (the VIM stays
PENDING), stop_monitoring still kills the monitor over the broker and leaves the workflow
to be removed later, and `missed_work` tells the api's reconciler to try again soon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import requests
from mistralclient.api import base as mistral_base
from mistralclient.api.v2 import client as mistral_client

from vimwatch.contract import RUNNING, workflow_name
from vimwatch.errors import ServiceUnavailable
from vimwatch.messaging.base import Transport, run_from_thread
from vimwatch.workflows.backends.base import WorkflowBackend, cast_kill
from vimwatch.workflows.definition import workflow_definition

LOG = logging.getLogger(__name__)
WORKFLOW_PREFIX = workflow_name("")
REQUEST_TIMEOUT = 10.0
PAGE_SIZE = 1000  # Mistral's default [api] max_limit
LOCK_STRIPES = 64
# Mistral fails an action whose executor stopped sending heartbeats; this policy then runs
# it again (on any live executor) instead of failing the workflow. A few seconds apart, so
# an action that cannot start (broker unreachable from an executor) does not spin.
TASK_POLICIES: dict[str, Any] = {"retry": {"count": 1000, "delay": 3}, "safe-rerun": True}


class _TimedSession(requests.Session):
    """python-mistralclient sets no timeout; a hung Mistral must not hang a request."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return super().request(*args, **kwargs)


def _vim_id(name: str) -> str | None:
    return name[len(WORKFLOW_PREFIX) :] if name.startswith(WORKFLOW_PREFIX) else None


class MistralBackend(WorkflowBackend):
    engines_run_monitors = False
    reconcile_interval = 60.0

    def __init__(
        self, mistral_url: str, transport: Transport, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._url = mistral_url
        self._transport = transport
        self._loop = loop
        self._local = threading.local()  # one HTTP session per request thread
        self._vim_locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._missed = threading.Event()

    def start_monitoring(self, vim_id: str, project_id: str, task_input: dict[str, Any]) -> bool:
        """Idempotent, and tidies up: the VIM ends with exactly one RUNNING execution.

        The newest RUNNING execution is kept; any other (finished, or a duplicate left by a
        request that timed out after Mistral had done it) is deleted. The monitors
        themselves settle duplicates by superseding (mistral_runtime).
        """
        name = workflow_name(vim_id)
        definition = workflow_definition(vim_id, task_input, policies=TASK_POLICIES)
        with self._vim_lock(vim_id), self._mistral(f"start monitoring VIM {vim_id}"):
            client = self._client()
            executions = list(self._all(client.executions, workflow_name=name))
            running = [execution for execution in executions if execution.state == RUNNING]
            for execution in executions:
                if not running or execution is not running[-1]:
                    self._ignore_missing(client.executions.delete, execution.id, force=True)
            if running:
                return False
            workflow = self._find_workflow(name)
            if workflow is None:
                client.workflows.create(definition, scope="private")
            elif workflow.definition != definition:
                client.workflows.update(definition, scope="private")
            client.executions.create(wf_identifier=name, workflow_input={})
        LOG.info("started workflow %s in Mistral (project %s)", name, project_id)
        return True

    def stop_monitoring(self, vim_id: str) -> None:
        """Kill each execution's monitor by name, then delete the executions and workflow.

        A kill names its execution, so that one reaching an executor late cannot end the
        monitor of an execution started after it. When Mistral cannot be asked which
        executions there are, the kill names none (ending whatever monitor the VIM has):
        no new execution can be started then either.
        """
        name = workflow_name(vim_id)
        with self._vim_lock(vim_id):
            try:
                with self._mistral(f"remove workflow {name}"):
                    client = self._client()
                    executions = list(self._all(client.executions, workflow_name=name))
                    for execution in executions:
                        self._kill(vim_id, execution.id)
                    for execution in executions:
                        self._ignore_missing(client.executions.delete, execution.id, force=True)
                    self._ignore_missing(client.workflows.delete, name)
            except ServiceUnavailable as exc:
                # The kill goes over the broker; the leftover workflow is an orphan that
                # the next reconcile removes.
                self._kill(vim_id, None)
                LOG.warning("%s; the monitor is stopped, the workflow is removed later", exc)

    def ended_vims(self) -> set[str]:
        """VIMs with an execution that is no longer RUNNING: normally none, so this is one
        short page however large the fleet (stop_monitoring and start_monitoring delete
        ended executions)."""
        with self._mistral("list ended executions"):
            return {
                vim_id
                for execution in self._all(
                    self._client().executions,
                    fields=["workflow_name", "state"],
                    workflow_name=f"has:{WORKFLOW_PREFIX}",
                    state=f"neq:{RUNNING}",
                )
                if (vim_id := _vim_id(execution.workflow_name)) is not None
            }

    def monitored_vims(self) -> set[str]:
        """VIMs whose only execution is RUNNING; any other needs start_monitoring."""
        states: dict[str, list[str]] = {}
        with self._mistral("list executions"):
            for execution in self._all(
                self._client().executions,
                fields=["workflow_name", "state"],
                workflow_name=f"has:{WORKFLOW_PREFIX}",
            ):
                vim_id = _vim_id(execution.workflow_name)
                if vim_id is not None:
                    states.setdefault(vim_id, []).append(execution.state)
        return {vim_id for vim_id, found in states.items() if found == [RUNNING]}

    def vims_with_workflow(self) -> set[str]:
        with self._mistral("list workflows"):
            workflows = self._all(
                self._client().workflows, fields=["name"], name=f"has:{WORKFLOW_PREFIX}"
            )
            return {vim for w in workflows if (vim := _vim_id(w.name)) is not None}

    def _kill(self, vim_id: str, execution_id: str | None) -> None:
        run_from_thread(self._loop, cast_kill(self._transport, vim_id, execution_id))

    def missed_work(self) -> bool:
        missed = self._missed.is_set()
        self._missed.clear()
        return missed

    def _client(self) -> mistral_client.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = mistral_client.Client(mistral_url=self._url, session=_TimedSession())
            self._local.client = client
        return client

    def _find_workflow(self, name: str) -> Any:
        try:
            return self._client().workflows.get(name)
        except mistral_base.APIException as exc:
            if exc.error_code == 404:
                return None
            raise

    @staticmethod
    def _all(manager: Any, **filters: Any) -> Iterator[Any]:
        """Every matching resource, page by page (the API returns at most max_limit)."""
        marker = ""
        while True:
            page = manager.list(
                marker=marker, limit=PAGE_SIZE, sort_keys="created_at", sort_dirs="asc", **filters
            )
            yield from page
            if len(page) < PAGE_SIZE:
                return
            marker = page[-1].id

    @staticmethod
    def _ignore_missing(delete: Any, *args: Any, **kwargs: Any) -> None:
        try:
            delete(*args, **kwargs)
        except mistral_base.APIException as exc:
            if exc.error_code != 404:
                raise

    def _vim_lock(self, vim_id: str) -> threading.Lock:
        """Serialises this process's start and stop of one VIM (registration vs reconcile);
        striped, so the locks stay few however many VIMs come and go."""
        return self._vim_locks[hash(vim_id) % LOCK_STRIPES]

    @contextlib.contextmanager
    def _mistral(self, doing: str) -> Iterator[None]:
        try:
            yield
        except requests.RequestException as exc:
            self._missed.set()
            raise ServiceUnavailable(
                f"cannot {doing}: Mistral at {self._url} is unreachable ({type(exc).__name__})"
            ) from None
        except mistral_base.APIException as exc:
            if not exc.error_code or exc.error_code >= 500:
                self._missed.set()
            raise ServiceUnavailable(
                f"cannot {doing}: Mistral answered {exc.error_code}: {exc.error_message}"
            ) from None
