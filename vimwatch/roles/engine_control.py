"""What the api asks the embedded default's engine process, and how it is answered.

The api serves /healthz, /metrics and the dashboard, but the engine whose figures they
show runs in a process of its own (vimwatch.roles.engine_process). The two share a
socket pair made by the api before the engine starts, so no other process can connect to
it. Each question is one JSON line carrying an id, each answer one JSON line with the
same id: an answer that comes after its asker gave up is recognised and skipped.

The engine answers from a thread, as the engine role's metrics exporter does, so that a
question costs the probe loop nothing but a little of the GIL.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from vimwatch.api.engine_view import EngineStatus, NoAnswer
from vimwatch.hosts.engine import Engine
from vimwatch.metrics.probes import ProbeStats, RecentProbe

LOG = logging.getLogger(__name__)
READY = "ready"


def families_to_wire(collectors: CollectorRegistry) -> list[dict[str, Any]]:
    return [
        {
            "name": family.name,
            "documentation": family.documentation,
            "type": family.type,
            "unit": family.unit,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
        for family in collectors.collect()
    ]


def families_from_wire(wire: list[dict[str, Any]]) -> list[Metric]:
    families = []
    for item in wire:
        family = Metric(item["name"], item["documentation"], item["type"], item["unit"])
        for name, labels, value in item["samples"]:
            family.add_sample(name, labels, value)
        families.append(family)
    return families


class EngineAnswers:
    """The engine process's side: answers questions about the engine running there."""

    def __init__(
        self,
        channel: socket.socket,
        engine: Engine,
        stats: ProbeStats,
        collectors: CollectorRegistry,
    ) -> None:
        self._channel = channel
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "status": lambda _: {"monitors": len(engine.scheduler), "isolated": engine.isolated},
            "metrics": lambda _: families_to_wire(collectors),
            "recent": lambda q: {
                vim_id: [[p.ok, p.rtt_ms] for p in stats.recent(vim_id)] for vim_id in q["vim_ids"]
            },
        }
        self._thread = threading.Thread(target=self._serve, name="engine-answers", daemon=True)

    def start(self) -> None:
        self._send({"id": 0, "answer": READY})
        self._thread.start()

    def _send(self, message: dict[str, Any]) -> None:
        self._channel.sendall(json.dumps(message).encode() + b"\n")

    def _serve(self) -> None:
        with self._channel.makefile("rb") as lines:
            for line in lines:
                question = json.loads(line)
                try:
                    answer = self._handlers[question["ask"]](question)
                except Exception as exc:  # a bad question must not end the answering
                    LOG.exception("cannot answer %s", question.get("ask"))
                    self._send({"id": question["id"], "error": str(exc)})
                    continue
                try:
                    self._send({"id": question["id"], "answer": answer})
                except OSError:
                    return  # the api is gone; end of stdin stops this process


class EngineQuestions:
    """The api's side: asks, from worker threads (one question at a time)."""

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending = b""

    def close(self) -> None:
        self._channel.close()

    def wait_ready(self) -> bool:
        """Blocks until the engine process says it runs; False if it ended first."""
        self._channel.settimeout(None)
        try:
            return self._read_answer(0, None) == READY
        except NoAnswer:
            return False

    def ask(self, what: str, timeout: float, **details: Any) -> Any:
        with self._lock:
            question_id = next(self._ids)
            self._channel.settimeout(timeout)
            try:
                self._channel.sendall(
                    json.dumps({"id": question_id, "ask": what, **details}).encode() + b"\n"
                )
            except OSError as exc:
                raise NoAnswer(f"the engine process is gone ({exc})") from None
            return self._read_answer(question_id, time.monotonic() + timeout)

    def _read_answer(self, question_id: int, deadline: float | None) -> Any:
        while True:
            line, newline, rest = self._pending.partition(b"\n")
            if newline:
                self._pending = rest
                message = json.loads(line)
                if message["id"] != question_id:
                    continue  # the late answer to a question its asker gave up on
                if "error" in message:
                    raise NoAnswer(f"the engine process could not answer: {message['error']}")
                return message["answer"]
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NoAnswer("the engine process did not answer in time")
                self._channel.settimeout(left)
            try:
                chunk = self._channel.recv(65536)
            except TimeoutError:
                raise NoAnswer("the engine process did not answer in time") from None
            except OSError as exc:
                raise NoAnswer(f"the engine process is gone ({exc})") from None
            if not chunk:
                raise NoAnswer("the engine process is gone")
            self._pending += chunk

    def status(self, timeout: float) -> EngineStatus:
        answer = self.ask("status", timeout)
        return EngineStatus(answer["monitors"], answer["isolated"])

    def metric_families(self, timeout: float) -> list[Metric]:
        return families_from_wire(self.ask("metrics", timeout))

    def recent(self, vim_ids: list[str], timeout: float) -> dict[str, list[RecentProbe]]:
        answer = self.ask("recent", timeout, vim_ids=vim_ids)
        return {
            vim_id: [RecentProbe(ok, rtt) for ok, rtt in probes]
            for vim_id, probes in answer.items()
        }
