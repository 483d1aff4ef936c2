"""Server roles: `serve` (the embedded default), `api`, `conductor`, `engine`, `db upgrade`."""

from __future__ import annotations

import asyncio
import logging
from argparse import ArgumentParser, Namespace

from cliff.command import Command

from vimwatch.config import Settings, load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SHUTDOWN_GRACE = 3.0  # seconds requests may run on after SIGTERM


class _Role(Command):
    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--config", help="YAML settings file (env VIMWATCH_CONFIG)")
        return parser

    def settings(self, args: Namespace, **overrides: object) -> Settings:
        settings = load_settings(args.config, **overrides)
        logging.basicConfig(level=settings.log_level, format=LOG_FORMAT, force=True)
        return settings


class _HttpRole(_Role):
    embedded = True

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--host", help="listen address (default 127.0.0.1)")
        parser.add_argument("--port", type=int, help="listen port (default 9890)")
        return parser

    def take_action(self, args: Namespace) -> None:
        import uvicorn

        from vimwatch.roles.api import build_api_app

        settings = self.settings(args, host=args.host, port=args.port)
        app = build_api_app(settings, embedded=self.embedded)
        # Event streams (dashboards, `vim watch`) never end by themselves; without a bound
        # they would hold a stopping server forever.
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            timeout_graceful_shutdown=SHUTDOWN_GRACE,
        )


class Serve(_HttpRole):
    """Run api + conductor + engine in one process (SQLite and in-process transport by default)."""


class Api(_HttpRole):
    """Run the REST API only (services mode: engines and conductors run as their own processes)."""

    embedded = False


class Conductor(_Role):
    """Run a conductor: applies the status changes engines report (several may run)."""

    def take_action(self, args: Namespace) -> None:
        from vimwatch.roles.conductor import run_conductor

        asyncio.run(run_conductor(self.settings(args)))


class Engine(_Role):
    """Run an engine: monitors its share of the VIMs (several may run; set VIMWATCH_ENGINE_ID)."""

    def take_action(self, args: Namespace) -> None:
        from vimwatch.roles.engine import run_engine

        asyncio.run(run_engine(self.settings(args)))


class DbUpgrade(_Role):
    """Create or upgrade the database schema (safe to run twice)."""

    def take_action(self, args: Namespace) -> None:
        from vimwatch.registry.database import make_engine, migrate

        migrate(make_engine(self.settings(args).effective_database_url))
        self.app.stdout.write("database is at the newest schema\n")
