"""`vimwatch maintenance add|list|delete`: windows during which no alert goes out."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from typing import Any

from cliff.command import Command
from cliff.lister import Lister
from cliff.show import ShowOne

from vimwatch.cli.client import api_client
from vimwatch.cli.vim import find_vim_id

COLUMNS = (
    "id",
    "scope",
    "vim_ids",
    "target_project",
    "start",
    "end",
    "weekly",
    "in_force",
    "reason",
)


class AddWindow(ShowOne):
    """Plan a maintenance window for some VIMs, a project's VIMs, or every VIM."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("vims", nargs="*", metavar="VIM", help="names or ids of VIMs")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--project", help="every VIM of this project")
        target.add_argument("--all", action="store_true", help="every VIM (admin only)")
        parser.add_argument("--start", help="ISO 8601 time, UTC unless given (default now)")
        parser.add_argument("--end", required=True, help="ISO 8601 time, UTC unless given")
        parser.add_argument("--weekly", action="store_true", help="repeat every week")
        parser.add_argument("--reason", default="", help="why (shown in the list)")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        window: dict[str, Any] = {"end": args.end, "weekly": args.weekly, "reason": args.reason}
        if args.vims:
            window["vim_ids"] = [find_vim_id(api_client(self.app), vim) for vim in args.vims]
        if args.project:
            window["project"] = args.project
        if args.all:
            window["all"] = True
        if args.start:
            window["start"] = args.start
        body = {"maintenance_window": window}
        made = api_client(self.app).request("POST", "/v1.0/maintenance_windows", json=body)
        return COLUMNS, _row(made["maintenance_window"])


class ListWindows(Lister):
    """List maintenance windows, in the order they start."""

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        windows = api_client(self.app).get("/v1.0/maintenance_windows")["maintenance_windows"]
        return COLUMNS, [_row(window) for window in windows]


class DeleteWindow(Command):
    """End a maintenance window now; what it already left out of reports stays out."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("window_id", metavar="ID")
        return parser

    def take_action(self, args: Namespace) -> None:
        api_client(self.app).request("DELETE", f"/v1.0/maintenance_windows/{args.window_id}")


def _row(window: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(",".join(window[k]) if k == "vim_ids" else window[k] for k in COLUMNS)
