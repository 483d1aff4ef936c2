"""What the workflow, execution and task commands share: Mistral-style list and show."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from typing import Any, ClassVar

from cliff.lister import Lister
from cliff.show import ShowOne

from vimwatch.cli.client import CommandError, api_client


def parse_filters(pairs: list[str]) -> dict[str, str]:
    filters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--filter takes key=value, not {pair!r}")
        filters[key] = value
    return filters


class RecordLister(Lister):
    path: ClassVar[str]
    collection: ClassVar[str]
    columns: ClassVar[tuple[tuple[str, str], ...]]

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="Mistral-style filter, e.g. name=vim_id_<id> or state=eq:RUNNING (repeatable)",
        )
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        items = api_client(self.app).get(self.path, parse_filters(args.filter))[self.collection]
        headings = tuple(heading for heading, _ in self.columns)
        return headings, [tuple(item.get(key) for _, key in self.columns) for item in items]


class RecordShower(ShowOne):
    path: ClassVar[str]
    columns: ClassVar[tuple[tuple[str, str], ...]]

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("identifier", help="id (or name, for workflows)")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        item = api_client(self.app).get(f"{self.path}/{args.identifier}")
        return (
            tuple(heading for heading, _ in self.columns),
            tuple(item.get(key) for _, key in self.columns),
        )
