"""`vimwatch webhook ...`: a project's callbacks on status changes (add, list, show, test,
delete). The secret is sent once, on add, and never shown again."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from typing import Any

from cliff.command import Command
from cliff.lister import Lister
from cliff.show import ShowOne

from vimwatch.cli.client import CommandError, api_client

LIST_COLUMNS = ("id", "url", "project_id", "pending", "failed", "last_error")
SHOW_COLUMNS = (
    "id",
    "url",
    "project_id",
    "secret",
    "created_at",
    "pending",
    "failed",
    "last_error",
)


def _show(webhook: dict[str, Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    return SHOW_COLUMNS, tuple(webhook.get(column) for column in SHOW_COLUMNS)


class AddWebhook(ShowOne):
    """Call URL with a signed JSON body on every status change of the project's VIMs."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("url", help="http:// or https:// URL the receiver listens on")
        parser.add_argument(
            "--secret", required=True, help="key of the HMAC-SHA256 in X-Vimwatch-Signature"
        )
        parser.add_argument("--project-id", help="owning project (admin only)")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        body: dict[str, Any] = {"url": args.url, "secret": args.secret}
        if args.project_id:
            body["project_id"] = args.project_id
        response = api_client(self.app).request("POST", "/v1.0/webhooks", json={"webhook": body})
        return _show(response["webhook"])


class ListWebhooks(Lister):
    """List webhooks with their undelivered (pending) and given-up (failed) deliveries."""

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        webhooks = api_client(self.app).get("/v1.0/webhooks")["webhooks"]
        return LIST_COLUMNS, [tuple(w.get(c) for c in LIST_COLUMNS) for w in webhooks]


class ShowWebhook(ShowOne):
    """Show one webhook (its secret masked)."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("webhook_id")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        return _show(api_client(self.app).get(f"/v1.0/webhooks/{args.webhook_id}")["webhook"])


class TestWebhook(ShowOne):
    """Send a signed test body to the webhook now; fails unless the receiver answers 2xx."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("webhook_id")
        return parser

    def take_action(self, args: Namespace) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        result = api_client(self.app).request("POST", f"/v1.0/webhooks/{args.webhook_id}/test")
        columns = ("id", "delivered", "status_code")
        return columns, tuple(result["result"].get(c) for c in columns)


class DeleteWebhook(Command):
    """Delete webhooks; their undelivered deliveries are dropped with them."""

    def get_parser(self, prog_name: str) -> ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("webhook_ids", nargs="+", metavar="webhook_id")
        return parser

    def take_action(self, args: Namespace) -> None:
        failed = []
        for webhook_id in args.webhook_ids:
            try:
                api_client(self.app).request("DELETE", f"/v1.0/webhooks/{webhook_id}")
            except CommandError as exc:
                failed.append(f"{webhook_id}: {exc}")
        if failed:
            raise CommandError("Unable to delete the below webhook(s): " + "; ".join(failed))
        self.app.stdout.write("All specified webhook(s) deleted successfully\n")
