"""Whether vimwatch's own engines run the monitors: decided from the settings alone, in a
module light enough for `vimwatch serve` to ask before its heavy imports (it starts the
engine process first: vimwatch.roles.engine_child)."""

from __future__ import annotations

from vimwatch.config import Settings


def engines_run_monitors(settings: Settings) -> bool:
    """Whether vimwatch engines run the monitors (else Mistral's workers do)."""
    return settings.workflow_backend != "mistral"
