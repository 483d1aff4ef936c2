"""Where the server may be made to connect on a project's behalf.

Webhooks and VIM validation make the server open connections to addresses a caller
chose. Left open, a project's token could aim them at the server's own loopback, its
link-local neighbours or a cloud metadata service, and read which services answer from
the different errors. So for non-admin callers, every address a URL's host resolves to
is checked against the denied networks (VIMWATCH_OUTBOUND_DENIED; an empty list turns
the policy off). Admins are trusted with any address.

The check resolves the name when the URL is given or tested; a name whose address is
changed afterwards (DNS rebinding) is not caught at delivery time.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from vimwatch.context import RequestContext
from vimwatch.errors import Forbidden

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_DENIED = (
    "127.0.0.0/8",  # loopback
    "::1/128",
    "0.0.0.0/8",  # "this host"
    "::/128",
    "169.254.0.0/16",  # link-local, and the metadata service of most clouds
    "fe80::/10",
    "fd00:ec2::254/128",  # AWS's IPv6 metadata service
    "100.100.100.200/32",  # Alibaba Cloud's metadata service
)


class OutboundPolicy:
    def __init__(self, denied: Iterable[str] = DEFAULT_DENIED) -> None:
        self._denied: list[Network] = [ipaddress.ip_network(net, strict=False) for net in denied]

    def check(self, url: str, context: RequestContext, what: str) -> None:
        """Refuse (403) a URL a non-admin may not make the server call.

        A name that does not resolve passes: connecting to it fails on its own, with the
        same error whatever runs on this server's network.
        """
        if context.is_admin or not self._denied:
            return
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return
        if not host:
            return
        for address in _addresses(host):
            network = next((net for net in self._denied if address in net), None)
            if network is not None:
                raise Forbidden(
                    f"{what} {host} is {address}, in {network}, which this server does not "
                    "call on a project's behalf (outbound policy); an admin can set it up"
                )


@functools.cache
def policy_for(denied: tuple[str, ...]) -> OutboundPolicy:
    """One policy per deny list, parsed once: registration checks every VIM of an import."""
    return OutboundPolicy(denied)


def check_vim_urls(
    policy: OutboundPolicy, auth_url: str, auth_cred: dict, context: RequestContext
) -> None:
    """The URLs validating a VIM connects to: its auth_url, and an OIDC provider's."""
    policy.check(auth_url, context, "the VIM's auth_url host")
    token_url = auth_cred.get("oidc_token_url")
    if isinstance(token_url, str):
        policy.check(token_url, context, "the OIDC token URL host")


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        # A literal is its own address, zone and all; getaddrinfo refuses unknown zones.
        found = [host.split("%", 1)[0]]
        ipaddress.ip_address(found[0])
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return []
        found = [str(info[4][0]).split("%", 1)[0] for info in infos]
    addresses = []
    for text in found:
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        addresses.append(address)
    return addresses
