"""The simulated VIMs of capacity runs: distinct loopback addresses.

All of 127.0.0.0/8 answers ICMP on Linux without any setup, so a million VIMs need no
host of their own; nothing outside loopback is ever probed by these runs.
"""

from __future__ import annotations

from collections.abc import Iterator


def loopback_addresses(count: int) -> Iterator[str]:
    """`count` distinct addresses 127.0.0.1, 127.0.0.2, ... (skipping .0 and .255)."""
    if count > 254 * 256 * 256:
        raise ValueError("127.0.0.0/8 holds about 16.6 million usable addresses")
    made = 0
    for b in range(256):
        for c in range(256):
            for d in range(1, 255):
                if made == count:
                    return
                yield f"127.{b}.{c}.{d}"
                made += 1
