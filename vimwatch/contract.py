"""The wire contract: every name one vimwatch process relies on another process (or Tacker,
or Mistral) spelling the same way.

The API, the conductor, the engines, the Mistral executors' runtime and the CLI each import
these from here, so a workflow, a routing key or a status cannot be spelled two ways. The
module imports nothing of vimwatch: it is the bottom layer every other package may use.
"""

from __future__ import annotations

from typing import Literal

# --- Workflows, as Tacker named them and Mistral stores them -------------------------------

#: The one task of a VIM's monitoring workflow (Tacker's `monitor_ping_vimPingVIMTASK`).
TASK_NAME = "monitor_ping_vimPingVIMTASK"


def workflow_name(vim_id: str) -> str:
    """The VIM's monitoring workflow, `vim_id_<id>` as Tacker's workflow generator made it."""
    return f"vim_id_{vim_id}"


# --- Execution and task states (Mistral's spelling) ----------------------------------------

RUNNING, SUCCESS, ERROR = "RUNNING", "SUCCESS", "ERROR"

# --- VIM statuses ---------------------------------------------------------------------------

PENDING, REACHABLE, UNREACHABLE = "PENDING", "REACHABLE", "UNREACHABLE"
#: Every status a VIM can have, in the order the CLI offers them.
VIM_STATUSES = (PENDING, REACHABLE, UNREACHABLE)
#: The statuses a monitor reports; PENDING is only ever the registry's starting point.
MONITOR_STATUSES = frozenset({REACHABLE, UNREACHABLE})

# --- Quotas: the kinds the API's quota bodies and the CLI's options name ------------------

QuotaKind = Literal["vims", "webhooks", "tokens"]
QUOTA_KINDS: tuple[QuotaKind, ...] = ("vims", "webhooks", "tokens")

# --- Messaging: topics and addresses --------------------------------------------------------

#: The conductor's RPC topic (update_vims, record_flapping, ...).
CONDUCTOR_TOPIC = "vimwatch.conductor"
#: Where the embedded backend wakes the engines (`monitor_vim`) after it starts an execution.
ENGINE_ADDRESS = "vimwatch.engine"


def kill_address(vim_id: str) -> str:
    """The address a VIM's monitor listens on, as the old Tacker monitor did."""
    return f"KILL_ACTION.{vim_id}"
