"""The `vimwatch` application: global options and the table of commands."""

from __future__ import annotations

import logging
import os
import sys
from argparse import ArgumentParser
from typing import Any

from cliff.app import App
from cliff.commandmanager import CommandManager

from vimwatch.cli import (
    availability,
    event,
    execution,
    keys,
    maintenance,
    quota,
    server,
    task,
    token,
    vim,
    watch,
    webhook,
    workflow,
)
from vimwatch.cli.client import ApiClient

COMMANDS: dict[str, type] = {
    "serve": server.Serve,
    "api": server.Api,
    "conductor": server.Conductor,
    "engine": server.Engine,
    "db upgrade": server.DbUpgrade,
    "keys rotate": keys.RotateKeys,
    "keys check": keys.CheckKeys,
    "token create": token.CreateToken,
    "token list": token.ListTokens,
    "token revoke": token.RevokeToken,
    "quota show": quota.ShowQuota,
    "quota set": quota.SetQuota,
    "vim register": vim.RegisterVim,
    "vim import": vim.ImportVims,
    "vim list": vim.ListVims,
    "vim show": vim.ShowVim,
    "vim update": vim.UpdateVim,
    "vim set": vim.UpdateVim,
    "vim delete": vim.DeleteVim,
    "vim watch": watch.WatchVims,
    "vim availability": availability.VimAvailability,
    "availability": availability.FleetAvailability,
    "maintenance add": maintenance.AddWindow,
    "maintenance list": maintenance.ListWindows,
    "maintenance delete": maintenance.DeleteWindow,
    "workflow list": workflow.ListWorkflows,
    "workflow show": workflow.ShowWorkflow,
    "execution list": execution.ListExecutions,
    "execution show": execution.ShowExecution,
    "task list": task.ListTasks,
    "task show": task.ShowTask,
    "event list": event.ListEvents,
    "event show": event.ShowEvent,
    "webhook add": webhook.AddWebhook,
    "webhook list": webhook.ListWebhooks,
    "webhook show": webhook.ShowWebhook,
    "webhook test": webhook.TestWebhook,
    "webhook delete": webhook.DeleteWebhook,
}


class VimwatchApp(App):
    def __init__(self) -> None:
        manager = CommandManager("vimwatch.commands")
        for name, command in COMMANDS.items():
            manager.add_command(name, command)
        super().__init__(
            description="Register VIMs and watch whether each one is reachable.",
            version="0.1.0",
            command_manager=manager,
            deferred_help=True,
        )
        self._client: ApiClient | None = None

    def build_option_parser(
        self,
        description: str | None,
        version: str | None,
        argparse_kwargs: dict[str, Any] | None = None,
    ) -> ArgumentParser:
        parser = super().build_option_parser(description, version, argparse_kwargs)
        parser.add_argument(
            "--os-url",
            default=os.environ.get("VIMWATCH_URL", "http://127.0.0.1:9890"),
            help="vimwatch API endpoint (env VIMWATCH_URL)",
        )
        parser.add_argument(
            "--os-token",
            default=os.environ.get("VIMWATCH_TOKEN"),
            help="API token (env VIMWATCH_TOKEN)",
        )
        return parser

    def configure_logging(self) -> None:
        super().configure_logging()
        for chatty in ("httpx", "httpcore", "stevedore", "alembic"):
            logging.getLogger(chatty).setLevel(logging.WARNING)

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            self._client = ApiClient(self.options.os_url, self.options.os_token)
        return self._client


def main(argv: list[str] | None = None) -> int:
    return VimwatchApp().run(sys.argv[1:] if argv is None else argv)
