"""Server roles: `serve` (the embedded default), `api`, `conductor`, `engine`, `db upgrade`."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from argparse import ArgumentParser, Namespace

from cliff.command import Command

from vimwatch.cli.client import CommandError
from vimwatch.config import Settings, load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What the `server` extra adds and an HTTP role cannot start without. The base install is
# what a Mistral executor needs for the monitor action, and has none of them.
SERVER_MODULES = ("fastapi", "uvicorn")


def require_server_packages() -> None:
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise CommandError(
            f"this role needs the server's packages ({', '.join(missing)} missing): "
            "pip install 'vimwatch[server]'"
        )


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
        require_server_packages()
        from vimwatch.roles.claims import listen, lock_state_dir
        from vimwatch.roles.engine_child import EngineChild
        from vimwatch.workflows.backends.choice import engines_run_monitors

        settings = self.settings(args, host=args.host, port=args.port)
        listener = listen(settings.host, settings.port)
        # The embedded server owns its state dir's SQLite and monitors: one per state dir.
        state_lock = lock_state_dir(settings.state_dir) if self.embedded else None
        # Started before the api's imports below, so that the two processes' imports run
        # side by side (vimwatch.roles.engine_child).
        engine_child = EngineChild() if self.embedded and engines_run_monitors(settings) else None
        try:
            from vimwatch.roles.api import build_api_app
            from vimwatch.roles.http import serve_api

            app = build_api_app(settings, embedded=self.embedded, engine_child=engine_child)
            serve_api(app, settings, listener)
        finally:
            if engine_child:
                engine_child.discard()
            if state_lock:
                state_lock.close()


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
        from vimwatch.registry.database import make_db_engine, migrate

        migrate(make_db_engine(self.settings(args).effective_database_url))
        self.app.stdout.write("database is at the newest schema\n")
