"""`vimwatch.vim_ping_action`: the Mistral action that monitors one VIM.

`pip install 'vimwatch[mistral]'` in Mistral's environment registers it under the
`mistral.actions` entry point; Mistral's engine builds it from the task's literal input and
an executor runs it. All actions of an executor process share that process's runtime
(mistral_runtime), so an action costs a thread parked on an Event, not a connection.

Results: "KILLED" (killAction), "VIM_GONE" (deleted meanwhile) and "SUPERSEDED" (a newer
monitor of the VIM runs elsewhere) end the task in SUCCESS, so it is not retried. A
failure returns an error result, which the task's retry policy turns into a fresh attempt.
"""

from __future__ import annotations

import logging
from typing import Any

from mistral_lib import actions

from vimwatch.errors import VimwatchError
from vimwatch.hosts.mistral_runtime import Outcome, process_runtime
from vimwatch.messaging.base import MessagingError

LOG = logging.getLogger(__name__)


class VimPingAction(actions.Action):
    """Monitors one VIM's reachability until killAction arrives on KILL_ACTION.<vim_id>."""

    def __init__(
        self,
        vim_id: str,
        auth_url: str,
        targetip: str,
        cert_verify: bool,
        probe: str,
        interval: float,
        timeout: float,
        down_after: int,
        up_after: int,
    ) -> None:
        super().__init__()
        # Plain attributes: Mistral ships the action to its executor as vars(action).
        self.vim_id = vim_id
        self.auth_url = auth_url
        self.targetip = targetip
        self.cert_verify = cert_verify
        self.probe = probe
        self.interval = interval
        self.timeout = timeout
        self.down_after = down_after
        self.up_after = up_after

    def task_input(self) -> dict[str, Any]:
        return {
            "vim_id": self.vim_id,
            "auth_url": self.auth_url,
            "targetip": self.targetip,
            "cert_verify": self.cert_verify,
            "probe": self.probe,
            "interval": self.interval,
            "timeout": self.timeout,
            "down_after": self.down_after,
            "up_after": self.up_after,
        }

    def run(self, context: Any) -> str | actions.Result:
        execution = getattr(context, "execution", None)
        action_id = getattr(execution, "action_execution_id", None)
        # Kills name the workflow execution they end (see mistral_runtime).
        workflow_execution = getattr(execution, "workflow_execution_id", None)
        try:
            outcome = process_runtime().monitor(
                self.task_input(),
                str(action_id),
                str(workflow_execution) if workflow_execution else None,
            )
        except (MessagingError, VimwatchError, KeyError, ValueError, TimeoutError) as exc:
            LOG.error("cannot monitor VIM %s: %s", self.vim_id, exc)
            return actions.Result(error=f"cannot monitor VIM {self.vim_id}: {exc}")
        if outcome is Outcome.FAILED:
            return actions.Result(error=f"the monitor of VIM {self.vim_id} was shut down")
        return outcome.value
