"""`vimwatch vim availability NAME` and `vimwatch availability`: uptime over a window."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from typing import Any

from cliff.lister import Lister
from cliff.show import ShowOne

from vimwatch.cli.client import api_client
from vimwatch.cli.vim import find_vim_id

FIGURES = (
    "since",
    "until",
    "ratio",
    "up_seconds",
    "down_seconds",
    "pending_seconds",
    "maintenance_seconds",
    "outages",
    "mean_time_to_recovery_seconds",
    "longest_outage_seconds",
)
ROW = ("id", "name", "tenant_id", "status", "ratio", "outages", "down_seconds")


def _period_options(parser: ArgumentParser) -> None:
    period = parser.add_mutually_exclusive_group()
    period.add_argument("--window", help="the last 1h, 24h, 7d, 30d, ... (default 30d)")
    period.add_argument("--since", help="ISO 8601 start, such as 2026-11-01T00:00:00")
    parser.add_argument("--until", help="ISO 8601 end (default now)")


def _period(args: Namespace) -> dict[str, str]:
    return {key: getattr(args, key) for key in ("window", "since", "until") if getattr(args, key)}


class VimAvailability(ShowOne):
    """Show a VIM's availability: uptime ratio, outages, downtime, time to recover."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("vim", metavar="NAME", help="name or id of the VIM")
        _period_options(parser)
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        vim_id = find_vim_id(api_client(self.app), args.vim)
        report = api_client(self.app).get(f"/v1.0/vims/{vim_id}/availability", _period(args))
        keys = ("id", "name", *FIGURES)
        return keys, tuple(report["availability"][key] for key in keys)


class FleetAvailability(Lister):
    """List the VIMs with the worst availability first (a project's, or every one)."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        _period_options(parser)
        parser.add_argument(
            "--worst", type=int, default=20, metavar="N", help="how many VIMs (default 20)"
        )
        parser.add_argument("--project", help="only this project's VIMs")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        params: dict[str, Any] = {**_period(args), "limit": args.worst}
        if args.project:
            params["tenant_id"] = args.project
        report = api_client(self.app).get("/v1.0/availability", params)
        return ROW, [tuple(vim[key] for key in ROW) for vim in report["vims"]]
