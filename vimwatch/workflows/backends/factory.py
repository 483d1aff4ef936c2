"""Pick the workflow backend from configuration: the one place that reads the setting."""

from __future__ import annotations

import asyncio

from vimwatch.config import Settings
from vimwatch.messaging.base import Transport
from vimwatch.registry.database import Registry
from vimwatch.workflows.backends.base import WorkflowBackend
from vimwatch.workflows.backends.embedded import EmbeddedBackend
from vimwatch.workflows.backends.mistral import MistralBackend


def open_backend(
    settings: Settings,
    registry: Registry,
    transport: Transport,
    loop: asyncio.AbstractEventLoop,
) -> WorkflowBackend:
    if settings.workflow_backend == "mistral":
        assert settings.mistral_url is not None  # Settings refuses mistral without it
        return MistralBackend(settings.mistral_url, transport, loop)
    return EmbeddedBackend(registry, transport, loop)
