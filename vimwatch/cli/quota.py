"""`vimwatch quota show|set`: how many VIMs, webhooks and tokens a project may hold.

Anyone may show their own project's quota; setting one takes an admin token.
"""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError, Namespace
from typing import Any
from urllib.parse import quote

from cliff.show import ShowOne

from vimwatch.cli.client import CommandError, api_client
from vimwatch.contract import QUOTA_KINDS

COLUMNS = ("project_id", *QUOTA_KINDS, *(f"{kind}_used" for kind in QUOTA_KINDS))


def _show(quota: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    used = quota["usage"]
    return COLUMNS, (
        quota["project_id"],
        *(quota[k] for k in QUOTA_KINDS),
        *(used[k] for k in QUOTA_KINDS),
    )


class ShowQuota(ShowOne):
    """Show a project's quotas and what it holds of each."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("project", help="project id")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        return _show(api_client(self.app).get(_path(args.project))["quota"])


class SetQuota(ShowOne):
    """Set a project's quotas (admin only); 'default' puts one back on the server's default."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("project", help="project id")
        for kind in QUOTA_KINDS:
            parser.add_argument(
                f"--{kind}", type=_limit, metavar="N", help=f"most {kind} the project may hold"
            )
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        changes = {
            kind: getattr(args, kind) for kind in QUOTA_KINDS if getattr(args, kind) is not None
        }
        if not changes:
            raise CommandError("give at least one of --vims, --webhooks, --tokens")
        body = {"quota": {kind: None if v == "default" else v for kind, v in changes.items()}}
        response = api_client(self.app).request("PUT", _path(args.project), json=body)
        return _show(response["quota"])


def _path(project: str) -> str:
    return f"/v1.0/quotas/{quote(project, safe='')}"


def _limit(text: str) -> int | str:
    if text == "default":
        return text
    if not text.isdigit():
        raise ArgumentTypeError(f"{text!r} is neither a whole number nor 'default'")
    return int(text)
