"""Where a VIM is, in the terms a probe needs: host, port, and whether to trust its TLS.

A VIM is registered by its auth_url; probes need the host and port out of it, and must
find a DNS name's address without stalling the one event loop that runs every probe.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from vimwatch.errors import InvalidConfig

_DEFAULT_PORTS = {"http": 80, "https": 443}
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    host: str
    port: int
    verify_tls: bool


def target_from_auth_url(auth_url: str, cert_verify: bool | str = True) -> Target:
    """Parse once at registration so that a bad URL is the user's error, not a probe failure."""
    try:
        parts = urlsplit(auth_url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise InvalidConfig(f"auth_url {auth_url!r}: {exc}") from exc
    if scheme not in _DEFAULT_PORTS:
        raise InvalidConfig(f"auth_url {auth_url!r}: scheme must be http or https")
    if not host:
        raise InvalidConfig(f"auth_url {auth_url!r}: no host")
    if any(ch.isspace() for ch in host):
        raise InvalidConfig(f"auth_url {auth_url!r}: host contains whitespace")
    if ":" in host and not is_ip_literal(host):
        raise InvalidConfig(f"auth_url {auth_url!r}: invalid IPv6 address {host!r}")
    if port == 0:
        raise InvalidConfig(f"auth_url {auth_url!r}: port 0 cannot be connected to")
    return Target(
        url=auth_url,
        host=host,
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        verify_tls=_wants_verification(cert_verify),
    )


def _wants_verification(cert_verify: bool | str) -> bool:
    # VIM configs arrive from YAML and JSON alike, so "False" is as common as False.
    if isinstance(cert_verify, str):
        return cert_verify.strip().lower() not in _FALSE_WORDS
    return bool(cert_verify)


def is_ip_literal(host: str) -> bool:
    """An IP literal never needs resolving, nor re-resolving when the VIM stops answering."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def resolve(host: str) -> str:
    """The blocking resolver runs in the loop's executor, so one slow DNS server cannot
    delay the probes of every other VIM."""
    if is_ip_literal(host):
        return host
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        # Raised by IDNA encoding for a malformed name; to the caller it is just unresolvable.
        raise OSError(f"{host}: {exc}") from exc
    if not infos:
        raise OSError(f"{host}: no address")
    return infos[0][4][0]
