"""Sending a fleet file in batches, and saying exactly what a cut-short import stored.

Each batch is one import request, stored all or nothing. When one fails the import stops,
and its message names the batches that are stored, the batch that failed and whether it
was stored (an error answer: no; no connection: no; sent without an answer: unknown), and
the batches never sent. Running the same command with --skip-existing then finishes the
import whatever happened: the server skips the names already registered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vimwatch.cli.client import ApiClient, CommandError, NoAnswer, NotSent

IMPORT_PATH = "/v1.0/vims/import"
_ENTRY_IN_BATCH = re.compile(r"\bvims\[(\d+)\]")


@dataclass
class Batch:
    number: int  # counted from 1, as the messages print it
    start: int  # index in the fleet file of its first entry
    bodies: list[dict[str, Any]]

    @property
    def entries(self) -> str:
        return _entries(self.start, self.start + len(self.bodies) - 1)


@dataclass
class Imported:
    vims: list[dict[str, Any]]
    skipped: list[dict[str, Any]]


def split(bodies: list[dict[str, Any]], size: int) -> list[Batch]:
    return [
        Batch(number, start, bodies[start : start + size])
        for number, start in enumerate(range(0, len(bodies), size), start=1)
    ]


def import_batches(
    client: ApiClient,
    batches: list[Batch],
    *,
    skip_existing: bool,
    advanced: Callable[[int], None],
) -> Imported:
    """Send each batch in turn; `advanced` is told how many entries each one settled."""
    params = {"skip_existing": "true"} if skip_existing else None
    done = Imported([], [])
    for batch in batches:
        try:
            reply = client.request("POST", IMPORT_PATH, params=params, json={"vims": batch.bodies})
        except CommandError as exc:
            raise CommandError(_stopped(batches, batch, exc, skip_existing)) from None
        done.vims += reply["vims"]
        done.skipped += reply.get("skipped", [])
        advanced(len(batch.bodies))
    return done


def _stopped(batches: list[Batch], failed: Batch, exc: CommandError, skip_existing: bool) -> str:
    total = len(batches)
    if failed.number == 1:
        stored = "no batch is stored"
    else:
        which = "batch 1" if failed.number == 2 else f"batches 1-{failed.number - 1}"
        verb = "is" if failed.number == 2 else "are"
        stored = f"{which} of {total} ({_entries(0, failed.start - 1)}) {verb} stored"
    if isinstance(exc, NotSent):
        fate = "was not sent, so is not stored"
    elif isinstance(exc, NoAnswer):
        fate = "was sent but not answered, so may or may not be stored"
    else:
        fate = "was refused and is not stored"
    # The server numbers entries within the batch; the file's numbering is what to fix.
    reason = _ENTRY_IN_BATCH.sub(lambda m: f"entry {failed.start + int(m[1])}", str(exc))
    message = f"import stopped: {stored}; batch {failed.number} ({failed.entries}) {fate}: {reason}"
    if failed.number < total:
        rest = batches[failed.number :]
        which = f"batch {total}" if len(rest) == 1 else f"batches {failed.number + 1}-{total}"
        message += f"; {which} {'was' if len(rest) == 1 else 'were'} not sent"
    again = "run the same command again" if skip_existing else "run it again with --skip-existing"
    return f"{message}. Once the cause is fixed, {again} to import the rest."


def _entries(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first}-{last}"
