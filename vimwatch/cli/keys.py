"""`vimwatch keys rotate` and `vimwatch keys check`: the key file against the sealed secrets.

Both work on the database and key directory directly, like keystone-manage, so they run
before or while the servers run; servers pick up a rotated key file without a restart, and
`check` tells whether a key file restored from backup opens every secret before a start.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from cliff.command import Command

from vimwatch.cli.progress import ProgressBar
from vimwatch.config import load_settings


class _KeysCommand(Command):
    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--config", help="YAML settings file (env VIMWATCH_CONFIG)")
        return parser


class RotateKeys(_KeysCommand):
    """Add a new primary Fernet key and re-encrypt all sealed credentials with it."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--prune",
            action="store_true",
            help="afterwards drop the old keys (checked: only once nothing needs them)",
        )
        return parser

    def take_action(self, args: Namespace) -> None:
        from vimwatch.roles.runtime import open_registry
        from vimwatch.secrets.rotation import (
            add_primary_key,
            count_sealed,
            prune_old_keys,
            reseal_all,
        )

        settings = load_settings(args.config)
        registry = open_registry(settings, upgrade=False)
        keyring = add_primary_key(settings.key_dir, registry)
        bar = ProgressBar(count_sealed(registry), "re-encrypting", self.app.stderr)
        changed = reseal_all(registry, keyring, bar.advance)
        bar.close()
        self.app.stdout.write(f"re-encrypted {changed} sealed credentials under a new key\n")
        if args.prune:
            dropped = prune_old_keys(registry, settings.key_dir)
            self.app.stdout.write(f"dropped {dropped} old key(s)\n")


class CheckKeys(_KeysCommand):
    """Open every sealed VIM credential and webhook secret with the key file (1 if any fails)."""

    def take_action(self, args: Namespace) -> int:
        from vimwatch.roles.runtime import open_registry
        from vimwatch.secrets.keyring import Keyring
        from vimwatch.secrets.sealed import RESTORE_HINT, check

        settings = load_settings(args.config)
        registry = open_registry(settings, upgrade=False)
        keyring = Keyring.open(settings.key_dir)
        total, failed = check(registry, keyring)
        if failed:
            self.app.stderr.write(
                f"{len(failed)} of {total} sealed secrets do not open with the key file "
                f"{keyring.path}: {', '.join(map(str, failed))}\n{RESTORE_HINT}\n"
            )
            return 1
        self.app.stdout.write(f"all {total} sealed secrets open with the key file {keyring.path}\n")
        return 0
