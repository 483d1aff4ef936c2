"""The monitors' side of the conductor's RPC, shared by the embedded engine and the
Mistral executors' runtime, so both send and check a batch of status changes alike."""

from __future__ import annotations

from vimwatch.contract import CONDUCTOR_TOPIC
from vimwatch.messaging.base import MessagingError, Transport


async def update_vims(
    transport: Transport,
    changes: list[tuple[str, str, bool] | tuple[str, str, bool, str]],
    *,
    timeout: float,
) -> list[str | None]:
    """Apply (vim_id, status, quiet) or (vim_id, status, quiet, details) each in one call;
    answers each VIM's status after it, in order, or None for a VIM that no longer exists."""
    applied = await transport.call(
        CONDUCTOR_TOPIC, "update_vims", timeout=timeout, changes=[list(c) for c in changes]
    )
    if not isinstance(applied, list) or len(applied) != len(changes):
        raise MessagingError(f"the conductor answered {len(changes)} changes with {applied!r}")
    return applied
