"""What every vimwatch process does on its way up and down."""

from __future__ import annotations

import asyncio
import signal

from sqlalchemy.exc import SQLAlchemyError

from vimwatch.config import Settings
from vimwatch.errors import ServiceUnavailable, VimwatchError
from vimwatch.hosts.engine import Engine
from vimwatch.hosts.vim_access import AccessLoader
from vimwatch.messaging.base import Transport
from vimwatch.registry.database import Registry, make_db_engine, migrate, schema_is_current
from vimwatch.workflows.audit import MonitorAudit


def open_registry(settings: Settings, *, upgrade: bool) -> Registry:
    """The embedded default migrates its own SQLite; services expect `vimwatch db upgrade`."""
    db_engine = make_db_engine(settings.effective_database_url)
    try:
        if upgrade:
            migrate(db_engine)
        elif not schema_is_current(db_engine):
            raise VimwatchError("the database schema is not current: run 'vimwatch db upgrade'")
    except SQLAlchemyError as exc:
        url = db_engine.url.render_as_string(hide_password=True)
        raise ServiceUnavailable(
            f"cannot use the database at {url}: {getattr(exc, 'orig', None) or exc}"
        ) from None
    return Registry(db_engine)


def open_engine(settings: Settings, registry: Registry, transport: Transport) -> Engine:
    """The engine of a process: the settings' id and lease TTL, and the standing audit
    that gives any live VIM without a running execution a new one."""
    return Engine(
        registry,
        transport,
        engine_id=settings.engine_id,
        lease_ttl=settings.lease_ttl,
        audit=MonitorAudit(registry, settings),
        access=AccessLoader(registry, settings.key_dir),
        api_concurrency=settings.monitor_api_concurrency,
    )


async def until_signalled() -> None:
    """Wait for SIGTERM or SIGINT, so that a service stops cleanly and hands its work back."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
