"""`vimwatch vim watch`: follow status changes live, one line per event, until Ctrl-C.

It reads the server-sent events of /v1.0/events/stream. When the connection drops it
reconnects with Last-Event-ID, so the server replays what happened meanwhile and no
change is missed or printed twice.
"""

from __future__ import annotations

import json
import time
from argparse import ArgumentParser, Namespace
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from cliff.command import Command

from vimwatch.cli.client import CommandError, api_client, error_message
from vimwatch.cli.vim import find_vim_id
from vimwatch.contract import VIM_STATUSES

RECONNECT_AFTER = 1.0


@dataclass
class SseMessage:
    event: str = "message"
    data: list[str] = field(default_factory=list)
    id: str | None = None


def parse_sse(lines: Iterable[str]) -> Iterator[SseMessage]:
    """The text/event-stream format: fields per line, a blank line ends a message."""
    message = SseMessage()
    for line in lines:
        if not line:
            if message.data or message.event != "message":
                yield message
            message = SseMessage()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            message.event = value
        elif name == "data":
            message.data.append(value)
        elif name == "id":
            message.id = value


class WatchVims(Command):
    """Print each status change (and registration, deletion) of VIMs as it happens."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("vims", nargs="*", metavar="vim", help="only these (name or id)")
        parser.add_argument("--status", choices=VIM_STATUSES, help="only this status")
        parser.add_argument("--count", type=int, help="stop after this many events")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        return parser

    def take_action(self, args: Namespace) -> None:
        client = api_client(self.app)
        wanted = {find_vim_id(client, vim) for vim in args.vims}
        headers = {"Accept": "text/event-stream"}
        if self.app.options.os_token:
            headers["X-Auth-Token"] = self.app.options.os_token
        printed, last_id = 0, None
        while args.count is None or printed < args.count:
            if last_id:
                headers["Last-Event-ID"] = last_id
            try:
                for message in self._messages(client.url, headers):
                    if message.event == "ready":
                        self.app.stderr.write("watching for status changes (Ctrl-C to stop)\n")
                        self.app.stderr.flush()
                        continue
                    if message.event == "resync":
                        self.app.stderr.write("fell behind the server; some events skipped\n")
                        continue
                    last_id = message.id or last_id
                    event = json.loads("\n".join(message.data))
                    if wanted and event["vim_id"] not in wanted:
                        continue
                    if args.status and event["status"] != args.status:
                        continue
                    self._print(event, args.json)
                    printed += 1
                    if args.count is not None and printed >= args.count:
                        return
            except httpx.HTTPError as exc:
                self.app.stderr.write(f"connection lost ({type(exc).__name__}); reconnecting\n")
                time.sleep(RECONNECT_AFTER)

    @staticmethod
    def _messages(url: str, headers: dict[str, str]) -> Iterator[SseMessage]:
        # No read timeout: a quiet fleet sends nothing but a keep-alive every 15 s.
        timeout = httpx.Timeout(10.0, read=None)
        stream = f"{url}/v1.0/events/stream"
        with httpx.stream("GET", stream, headers=headers, timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise CommandError(f"cannot watch: {error_message(response)}")
            yield from parse_sse(response.iter_lines())

    def _print(self, event: dict[str, Any], as_json: bool) -> None:
        if as_json:
            line = json.dumps(event, sort_keys=True)
        else:
            name = event["vim_name"] or event["vim_id"]
            line = f"{event['timestamp']}  {name:<24} {event['status']:<12} {event['event_type']}"
        self.app.stdout.write(line + "\n")
        self.app.stdout.flush()
