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

from vimwatch.cli.client import ApiClient, CommandError, api_client
from vimwatch.cli.fleet_file import read_fleet
from vimwatch.cli.fleet_import import import_batches, split
from vimwatch.cli.vim_config import body_from_config
from vimwatch.contract import VIM_STATUSES

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
        return show_vim(
            api_client(self.app).request("POST", "/v1.0/vims", json={"vim": body})["vim"]
        )


class ImportVims(Lister):
    """Register every VIM of a YAML or JSON list of VIM configs, a batch per API call.

    An import that stops part way says which batches are stored; the same command with
    --skip-existing then imports the rest, skipping the names already registered."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("file", type=Path, help="list of VIM configs, each with a name")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help="VIMs per API call; each call stores all of its VIMs or none (default 5000)",
        )
        parser.add_argument(
            "--skip-existing",
            action="store_true",
            help="skip VIMs whose name is already registered in their project instead of "
            "refusing their batch: finishes an import that stopped part way",
        )
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        bodies = read_fleet(args.file)
        if args.batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        progress = _Progress(self.app.stderr, len(bodies))
        try:
            done = import_batches(
                api_client(self.app),
                split(bodies, args.batch_size),
                skip_existing=args.skip_existing,
                advanced=progress.advance,
            )
        finally:
            progress.end()
        if not args.skip_existing:
            columns: tuple[str, ...] = ("id", "name", "status")
            return columns, [tuple(vim[c] for c in columns) for vim in done.vims]
        if done.skipped:
            self.app.stderr.write(f"skipped {len(done.skipped)} VIMs already registered\n")
        columns = ("id", "name", "status", "result")
        rows = [(vim["id"], vim["name"], vim["status"], "imported") for vim in done.vims]
        rows += [(vim["id"], vim["name"], vim["status"], "skipped") for vim in done.skipped]
        return columns, rows


class _Progress:
    """A one-line progress bar on stderr, so that stdout holds only the table."""

    WIDTH = 30

    def __init__(self, stream: Any, total: int) -> None:
        self._stream, self._total, self._done = stream, total, 0
        self.advance(0)

    def advance(self, count: int) -> None:
        self._done += count
        filled = self.WIDTH * self._done // self._total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self._stream.write(f"\rimporting VIMs [{bar}] {self._done}/{self._total}")
        self._stream.flush()

    def end(self) -> None:
        self._stream.write("\n")
        self._stream.flush()


class ListVims(Lister):
    """List VIMs with their status."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", help="only the VIM with this name")
        parser.add_argument("--status", choices=VIM_STATUSES, help="only this status")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        params = {k: v for k, v in (("name", args.name), ("status", args.status)) if v}
        vims = api_client(self.app).get("/v1.0/vims", params)["vims"]
        return LIST_COLUMNS, [tuple(vim.get(c) for c in LIST_COLUMNS) for vim in vims]


class ShowVim(ShowOne):
    """Show one VIM (credentials masked)."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("vim", help="name or id")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        vim_id = find_vim_id(api_client(self.app), args.vim)
        return show_vim(api_client(self.app).get(f"/v1.0/vims/{vim_id}")["vim"])


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
        vim_id = find_vim_id(api_client(self.app), args.vim)
        vim = api_client(self.app).request("PUT", f"/v1.0/vims/{vim_id}", json={"vim": body})["vim"]
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
                vim_id = find_vim_id(api_client(self.app), name_or_id)
                api_client(self.app).request("DELETE", f"/v1.0/vims/{vim_id}")
            except CommandError as exc:
                failed.append(f"{name_or_id}: {exc}")
        if failed:
            raise CommandError("Unable to delete the below vim(s): " + "; ".join(failed))
        self.app.stdout.write("All specified vim(s) deleted successfully\n")
