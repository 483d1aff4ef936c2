"""What every vimwatch process does on its way up and down."""

from __future__ import annotations

import asyncio
import signal

from sqlalchemy.exc import SQLAlchemyError

from vimwatch.config import Settings
from vimwatch.errors import ServiceUnavailable, VimwatchError
from vimwatch.registry.database import Registry, make_engine, migrate, schema_is_current


def open_registry(settings: Settings, *, upgrade: bool) -> Registry:
    """The embedded default migrates its own SQLite; services expect `vimwatch db upgrade`."""
    engine = make_engine(settings.effective_database_url)
    try:
        if upgrade:
            migrate(engine)
        elif not schema_is_current(engine):
            raise VimwatchError("the database schema is not current: run 'vimwatch db upgrade'")
    except SQLAlchemyError as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise ServiceUnavailable(f"cannot use the database at {url}: {exc.orig or exc}") from None
    return Registry(engine)


async def until_signalled() -> None:
    """Wait for SIGTERM or SIGINT, so that a service stops cleanly and hands its work back."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
