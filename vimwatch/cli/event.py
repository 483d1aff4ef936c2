"""`vimwatch event ...`: what happened to each VIM (CREATE, UPDATE, DELETE, MONITOR)."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from typing import Any

from cliff.lister import Lister
from cliff.show import ShowOne

from vimwatch.cli.client import api_client

COLUMNS = (
    ("ID", "id"),
    ("Resource Type", "resource_type"),
    ("Resource ID", "resource_id"),
    ("Resource State", "resource_state"),
    ("Event Type", "event_type"),
    ("Timestamp", "timestamp"),
    ("Event Details", "event_details"),
)
_FILTERS = ("resource_id", "resource_type", "event_type", "resource_state")


class ListEvents(Lister):
    """List events, oldest first."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        for name in _FILTERS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name)
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        params = {name: getattr(args, name) for name in _FILTERS if getattr(args, name)}
        events = api_client(self.app).get("/v1.0/events", params)["events"]
        return (
            tuple(h for h, _ in COLUMNS),
            [tuple(event.get(key) for _, key in COLUMNS) for event in events],
        )


class ShowEvent(ShowOne):
    """Show one event."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("event_id")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        event = api_client(self.app).get(f"/v1.0/events/{args.event_id}")["event"]
        return tuple(h for h, _ in COLUMNS), tuple(event.get(key) for _, key in COLUMNS)
