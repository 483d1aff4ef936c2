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
_LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


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
    if is_ip_literal(host):
        try:
            host = unicast_address(host)
        except ValueError as exc:
            raise InvalidConfig(f"auth_url {auth_url!r}: {exc}") from None
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


def unicast_address(literal: str) -> str:
    """The one host an IP literal names, in the family that reaches it.

    A multicast, broadcast or unspecified address is not one host: an echo to it is
    answered by every host of a network (or by this one), so a VIM set to it would turn
    each probe into a flood and read REACHABLE whatever its cloud does. An IPv4-mapped
    IPv6 address is an IPv4 host and is probed over IPv4, as the kernel would reach it.
    """
    address = ipaddress.ip_address(literal)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_multicast:
        raise ValueError(f"{literal} is a multicast address, not one host")
    if address.is_unspecified:
        raise ValueError(f"{literal} is the unspecified address, not one host")
    if address == _LIMITED_BROADCAST:
        raise ValueError(f"{literal} is the broadcast address, not one host")
    return str(address)


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
    try:
        return unicast_address(str(infos[0][4][0]))
    except ValueError as exc:
        # A name can be pointed at a group address after registration, as a literal cannot.
        raise OSError(f"{host}: {exc}") from None
