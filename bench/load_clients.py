"""The API load of `python -m bench load`: many keep-alive HTTP clients in one process.

A benchmark's client must cost the two cores far less than the server it loads, so this
is a plain HTTP/1.1 client over asyncio streams (a request line, a JSON body, a response
read by its Content-Length) rather than a general-purpose library. Run as a process of
its own (`python -m bench.load_clients`, at nice 10), one JSON document of arguments on
stdin; it prints one JSON document of latencies by route kind.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from typing import Any

NICENESS = 10
LIST_ALL = "list_all"
SINGLE = "single"


async def _request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    body: bytes = b"",
) -> int:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = None
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    if length is None:
        raise RuntimeError(f"{method} {path}: no Content-Length in the answer")
    await reader.readexactly(length)
    return status


def single_vim_call(vim_id: str, serial: int) -> tuple[str, str, bytes]:
    """show, update (the description only: no monitor restarts) or the VIM's events."""
    kind = serial % 3
    if kind == 0:
        return "GET", f"/v1.0/vims/{vim_id}", b""
    if kind == 1:
        body = json.dumps({"vim": {"description": f"bench load {serial}"}}).encode()
        return "PUT", f"/v1.0/vims/{vim_id}", body
    return "GET", f"/v1.0/events?resource_id={vim_id}", b""


async def _client(
    kind: str, host: str, port: int, vim_ids: list[str], until: float, out: list[Any]
) -> None:
    rng = random.Random()
    reader, writer = await asyncio.open_connection(host, port)
    serial = rng.randrange(3)
    try:
        while time.monotonic() < until:
            if kind == LIST_ALL:
                method, path, body = "GET", "/v1.0/vims", b""
            else:
                method, path, body = single_vim_call(rng.choice(vim_ids), serial)
                serial += 1
            began = time.monotonic()
            try:
                status = await _request(reader, writer, method, path, body)
            except (OSError, asyncio.IncompleteReadError, RuntimeError, ValueError, IndexError):
                out.append([kind, time.monotonic() - began, 0])
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            out.append([kind, time.monotonic() - began, status])
    finally:
        writer.close()


async def _run(arguments: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    until = time.monotonic() + arguments["duration"]
    clients = [
        _client(kind, arguments["host"], arguments["port"], arguments["vim_ids"], until, out)
        for kind, count in ((LIST_ALL, arguments["list_all"]), (SINGLE, arguments["single"]))
        for _ in range(count)
    ]
    await asyncio.gather(*clients)
    return out


def main() -> None:
    # Real clients run on other machines: here they yield the shared cores to the server
    # they measure, and still send as fast as it answers.
    os.nice(NICENESS)
    arguments = json.loads(sys.stdin.read())
    json.dump(asyncio.run(_run(arguments)), sys.stdout)


if __name__ == "__main__":
    main()
