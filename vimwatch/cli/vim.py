"""`vimwatch vim ...`: register, list, show, update and delete VIMs."""

from __future__ import annotations

import json
import re
from argparse import ArgumentParser, Namespace
from pathlib import Path
from typing import Any

from cliff.command import Command
from cliff.lister import Lister
from cliff.show import ShowOne

from vimwatch.cli.client import ApiClient, CommandError
from vimwatch.cli.fleet_file import read_fleet
from vimwatch.cli.vim_config import body_from_config

LIST_COLUMNS = ("id", "name", "tenant_id", "type", "is_default", "status")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def show_vim(vim: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    keys = tuple(sorted(vim))
    return keys, tuple(
        json.dumps(vim[k]) if isinstance(vim[k], dict | list) else vim[k] for k in keys
    )


def find_vim_id(client: ApiClient, name_or_id: str) -> str:
    """Resolve a VIM the way the Tacker clients do: by id first, then by name."""
    if _UUID.match(name_or_id):
        found = client.get("/v1.0/vims", {"id": name_or_id, "fields": "id"})["vims"]
        if found:
            return found[0]["id"]
    found = client.get("/v1.0/vims", {"name": name_or_id, "fields": "id"})["vims"]
    if not found:
        raise CommandError(f"Unable to find vim with name '{name_or_id}'")
    if len(found) > 1:
        raise CommandError(f"more than one VIM is named '{name_or_id}'; use its id")
    return found[0]["id"]


class RegisterVim(ShowOne):
    """Register a VIM from a Tacker VIM config file; it starts PENDING."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("name", help="name of the VIM")
        parser.add_argument("--config-file", required=True, type=Path, help="VIM config YAML")
        parser.add_argument("--description", default="")
        parser.add_argument("--is-default", action="store_true", help="make it the default VIM")
        parser.add_argument("--tenant-id", help="owning project (admin only)")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        body = body_from_config(args.config_file)
        body.update(name=args.name, description=args.description, is_default=args.is_default)
        if args.tenant_id:
            body["tenant_id"] = args.tenant_id
        return show_vim(self.app.client.request("POST", "/v1.0/vims", json={"vim": body})["vim"])


class ImportVims(Lister):
    """Register every VIM of a YAML or JSON list of VIM configs, a batch per API call."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("file", type=Path, help="list of VIM configs, each with a name")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help="VIMs per API call; each call stores all of its VIMs or none (default 5000)",
        )
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        bodies = read_fleet(args.file)
        if args.batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        imported: list[dict[str, Any]] = []
        progress = _Progress(self.app.stderr, len(bodies))
        for start in range(0, len(bodies), args.batch_size):
            batch = bodies[start : start + args.batch_size]
            try:
                reply = self.app.client.request("POST", "/v1.0/vims/import", json={"vims": batch})
            except CommandError as exc:
                progress.end()
                raise CommandError(
                    f"stopped after {len(imported)} of {len(bodies)} VIMs; the batch from "
                    f"entry {start} was not stored: {exc}"
                ) from None
            imported += reply["vims"]
            progress.show(len(imported))
        progress.end()
        columns = ("id", "name", "status")
        return columns, [tuple(vim[c] for c in columns) for vim in imported]


class _Progress:
    """A one-line progress bar on stderr, so that stdout holds only the table."""

    WIDTH = 30

    def __init__(self, stream: Any, total: int) -> None:
        self._stream, self._total = stream, total
        self.show(0)

    def show(self, done: int) -> None:
        filled = self.WIDTH * done // self._total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self._stream.write(f"\rimporting VIMs [{bar}] {done}/{self._total}")
        self._stream.flush()

    def end(self) -> None:
        self._stream.write("\n")
        self._stream.flush()


class ListVims(Lister):
    """List VIMs with their status."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", help="only the VIM with this name")
        parser.add_argument(
            "--status", choices=("PENDING", "REACHABLE", "UNREACHABLE"), help="only this status"
        )
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        params = {k: v for k, v in (("name", args.name), ("status", args.status)) if v}
        vims = self.app.client.get("/v1.0/vims", params)["vims"]
        return LIST_COLUMNS, [tuple(vim.get(c) for c in LIST_COLUMNS) for vim in vims]


class ShowVim(ShowOne):
    """Show one VIM (credentials masked)."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("vim", help="name or id")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        vim_id = find_vim_id(self.app.client, args.vim)
        return show_vim(self.app.client.get(f"/v1.0/vims/{vim_id}")["vim"])


class UpdateVim(ShowOne):
    """Change a VIM's name, description, default flag, credentials or extra settings."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("vim", help="name or id")
        parser.add_argument("--config-file", type=Path, help="new credentials / project / extra")
        parser.add_argument("--name", help="new name")
        parser.add_argument("--description")
        parser.add_argument("--is-default", choices=("True", "False"))
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        body = body_from_config(args.config_file, for_update=True) if args.config_file else {}
        for key in ("name", "description"):
            if getattr(args, key) is not None:
                body[key] = getattr(args, key)
        if args.is_default is not None:
            body["is_default"] = args.is_default == "True"
        if not body:
            raise CommandError(
                "nothing to update: give --config-file, --name, --description or --is-default"
            )
        vim_id = find_vim_id(self.app.client, args.vim)
        vim = self.app.client.request("PUT", f"/v1.0/vims/{vim_id}", json={"vim": body})["vim"]
        return show_vim(vim)


class DeleteVim(Command):
    """Delete VIMs: their monitors stop and their workflows are removed."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("vims", nargs="+", metavar="vim", help="name or id")
        return parser

    def take_action(self, args: Namespace) -> None:
        failed = []
        for name_or_id in args.vims:
            try:
                vim_id = find_vim_id(self.app.client, name_or_id)
                self.app.client.request("DELETE", f"/v1.0/vims/{vim_id}")
            except CommandError as exc:
                failed.append(f"{name_or_id}: {exc}")
        if failed:
            raise CommandError("Unable to delete the below vim(s): " + "; ".join(failed))
        self.app.stdout.write("All specified vim(s) deleted successfully\n")
