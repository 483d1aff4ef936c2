"""Server roles: `vimwatch serve` (the embedded default) and `vimwatch db upgrade`."""

from __future__ import annotations

import logging
from argparse import ArgumentParser, Namespace

from cliff.command import Command

from vimwatch.config import Settings, load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _add_config_option(parser: ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML settings file (env VIMWATCH_CONFIG)")


class Serve(Command):
    """Run api + conductor + embedded engine in one process (SQLite, in-process transport)."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_config_option(parser)
        parser.add_argument("--host", help="listen address (default 127.0.0.1)")
        parser.add_argument("--port", type=int, help="listen port (default 9890)")
        return parser

    def take_action(self, args: Namespace) -> None:
        import uvicorn

        from vimwatch.embedded import build_embedded_app

        settings = load_settings(args.config, host=args.host, port=args.port)
        _configure_logging()
        app = build_embedded_app(settings)
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)


class DbUpgrade(Command):
    """Create or upgrade the database schema (safe to run twice)."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_config_option(parser)
        return parser

    def take_action(self, args: Namespace) -> None:
        from vimwatch.registry.database import make_engine, migrate

        settings: Settings = load_settings(args.config)
        migrate(make_engine(settings.effective_database_url))
        self.app.stdout.write("database is at the newest schema\n")


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)
