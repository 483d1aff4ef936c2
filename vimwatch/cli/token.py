"""`vimwatch token create|list|revoke`: API tokens for VIMWATCH_AUTH=token.

They work on the database directly, like keystone-manage, so the first admin token can be
made before any server runs, and a leaked one revoked while they run.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from typing import TYPE_CHECKING, Any

from cliff.command import Command
from cliff.lister import Lister

from vimwatch.cli.client import CommandError
from vimwatch.config import Settings, load_settings

if TYPE_CHECKING:  # the database's modules load only for the commands that use them
    from vimwatch.registry.database import Registry


def _registry(settings: Settings) -> Registry:
    from vimwatch.roles.runtime import open_registry

    # Migrating is safe to repeat, and lets the first token be made before any server ran.
    return open_registry(settings, upgrade=True)


class _TokenCommand(Command):
    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--config", help="YAML settings file (env VIMWATCH_CONFIG)")
        return parser


class CreateToken(_TokenCommand):
    """Create a token for a project; the token is printed once, as the last word."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--project", required=True, help="project the token acts in")
        parser.add_argument("--admin", action="store_true", help="see and change every project")
        return parser

    def take_action(self, args: Namespace) -> None:
        from vimwatch.errors import QuotaExceeded
        from vimwatch.registry import quotas
        from vimwatch.registry.tokens import create_token

        if not args.project.strip() or len(args.project) > 64:
            raise CommandError("--project must be 1 to 64 characters")
        settings = load_settings(args.config)
        try:
            with _registry(settings).transaction() as session:
                quotas.reserve(session, settings, args.project, "tokens", 1)
                row, token = create_token(session, args.project, admin=args.admin)
        except QuotaExceeded as exc:
            raise CommandError(exc.message) from None
        role = "admin" if args.admin else "member"
        self.app.stdout.write(f"token {row.id} for project {args.project} ({role}): {token}\n")


class RevokeToken(_TokenCommand):
    """Revoke a token by its id; requests carrying it are refused from then on."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("token_id")
        return parser

    def take_action(self, args: Namespace) -> None:
        from vimwatch.registry.tokens import revoke_token

        with _registry(load_settings(args.config)).transaction() as session:
            revoke_token(session, args.token_id)
        self.app.stdout.write(f"token {args.token_id} revoked\n")


class ListTokens(Lister):
    """List tokens (never the tokens themselves: only their ids and projects)."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--config", help="YAML settings file (env VIMWATCH_CONFIG)")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        from vimwatch.registry.tokens import list_tokens

        with _registry(load_settings(args.config)).reading() as session:
            rows = [
                (t.id, t.project_id, t.is_admin, str(t.created_at), str(t.revoked_at or ""))
                for t in list_tokens(session)
            ]
        return ("id", "project", "admin", "created_at", "revoked_at"), rows
