"""`vimwatch keys rotate`: re-encrypt every VIM's credentials under a new key, live.

Works on the database and key directory directly, like keystone-manage, so it runs before
or while the servers run; they pick up the new key file without a restart.
"""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from cliff.command import Command

from vimwatch.cli.progress import ProgressBar
from vimwatch.config import load_settings


class RotateKeys(Command):
    """Add a new primary Fernet key and re-encrypt all sealed credentials with it."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--config", help="YAML settings file (env VIMWATCH_CONFIG)")
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
        keyring = add_primary_key(settings.key_dir)
        bar = ProgressBar(count_sealed(registry), "re-encrypting", self.app.stderr)
        changed = reseal_all(registry, keyring, bar.advance)
        bar.close()
        self.app.stdout.write(f"re-encrypted {changed} sealed credentials under a new key\n")
        if args.prune:
            dropped = prune_old_keys(registry, settings.key_dir)
            self.app.stdout.write(f"dropped {dropped} old key(s)\n")
