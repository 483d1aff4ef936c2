"""Pick the transport from configuration, so no other module needs to know which one runs.

An unset URL means the embedded default: everything in one process, nothing to install.
"""

from __future__ import annotations

from vimwatch.errors import InvalidConfig
from vimwatch.messaging.base import Transport
from vimwatch.messaging.inprocess import InProcessTransport
from vimwatch.messaging.rabbit import SCHEMES, RabbitTransport


def open_transport(url: str | None, *, process_name: str) -> Transport:
    """Build (not start) the transport for `url`; the caller awaits `start()` on its loop."""
    if not url:
        return InProcessTransport()
    scheme, separator, _ = url.partition("://")
    if separator and scheme in SCHEMES:
        return RabbitTransport(url, process_name=process_name)
    named = f"scheme {scheme!r}" if separator else "URL without a scheme"
    supported = ", ".join(f"{name}://" for name in SCHEMES)
    raise InvalidConfig(
        f"unsupported transport {named}: use {supported} or leave it unset "
        "for the in-process transport"
    )
