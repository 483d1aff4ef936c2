import asyncio
import socket

import pytest

from vimwatch.errors import InvalidConfig
from vimwatch.monitor.target import Target, is_ip_literal, resolve, target_from_auth_url


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://192.0.2.10:5000/v3", "192.0.2.10", 5000),
        ("http://192.0.2.10/identity/v3", "192.0.2.10", 80),
        ("https://[2001:db8::5]:13000/v3", "2001:db8::5", 13000),
        ("http://[::1]/v3", "::1", 80),
        ("https://keystone.example.com/v3", "keystone.example.com", 443),
        ("HTTPS://Keystone.Example.COM:8443", "keystone.example.com", 8443),
        ("https://admin:secret@k8s.example.org:6443", "k8s.example.org", 6443),
    ],
)
def test_host_and_port_come_from_the_url_with_scheme_default_ports(
    url: str, host: str, port: int
) -> None:
    target = target_from_auth_url(url)
    assert target == Target(url=url, host=host, port=port, verify_tls=True)


@pytest.mark.parametrize(
    ("cert_verify", "verify_tls"),
    [
        (True, True),
        (False, False),
        ("False", False),
        ("false", False),
        ("True", True),
        ("/etc/ssl/certs/ca.pem", True),
    ],
)
def test_cert_verify_false_as_bool_or_string_disables_tls_verification(
    cert_verify: bool | str, verify_tls: bool
) -> None:
    target = target_from_auth_url("https://192.0.2.1:5000/v3", cert_verify)
    assert target.verify_tls is verify_tls


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "scheme"),
        ("192.0.2.1:5000/v3", "scheme"),
        ("ftp://192.0.2.1/v3", "scheme"),
        ("keystone.example.com/v3", "scheme"),
        ("https:///v3", "no host"),
        ("https://:5000/v3", "no host"),
        ("https://192.0.2.1:99999/v3", "port"),
        ("https://192.0.2.1:http/v3", "port"),
        ("https://192.0.2.1:0/v3", "port"),
        ("https://[::1/v3", "IPv6"),
        ("https://[zz::1]/v3", ""),
        ("https://key stone/v3", "whitespace"),
    ],
)
def test_urls_that_name_no_reachable_endpoint_are_invalid_config(url: str, reason: str) -> None:
    with pytest.raises(InvalidConfig) as raised:
        target_from_auth_url(url)
    assert raised.value.message.startswith(f"auth_url {url!r}: ")
    assert reason.lower() in raised.value.message.lower()


def test_ip_literals_are_told_from_names() -> None:
    assert is_ip_literal("127.0.0.1")
    assert is_ip_literal("::1")
    assert not is_ip_literal("localhost")
    assert not is_ip_literal("127.1")


@pytest.fixture
async def no_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    async def forbidden(*args: object, **kwargs: object) -> list:
        raise AssertionError("getaddrinfo called for an IP literal")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", forbidden)


@pytest.mark.usefixtures("no_resolver")
@pytest.mark.parametrize("literal", ["127.0.0.1", "::1", "2001:db8::5"])
async def test_ip_literal_is_returned_without_a_lookup(literal: str) -> None:
    assert await resolve(literal) == literal


async def test_localhost_resolves_to_a_loopback_address() -> None:
    assert await resolve("localhost") in ("127.0.0.1", "::1")


async def test_names_are_resolved_through_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    looked_up = []

    async def getaddrinfo(host: str, port: object, **kwargs: object) -> list:
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 0))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    assert await resolve("keystone.example.com") == "192.0.2.7"
    assert looked_up == ["keystone.example.com"]


@pytest.mark.parametrize(
    "outcome",
    [socket.gaierror(socket.EAI_NONAME, "Name or service not known"), UnicodeError("label")],
)
async def test_unresolvable_name_raises_oserror(
    monkeypatch: pytest.MonkeyPatch, outcome: Exception
) -> None:
    async def getaddrinfo(*args: object, **kwargs: object) -> list:
        raise outcome

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    with pytest.raises(OSError):
        await resolve("nowhere.example.com")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://224.0.0.1/v3", "multicast"),
        ("http://[ff02::1]/v3", "multicast"),
        ("http://[::ffff:224.0.0.1]/v3", "multicast"),
        ("http://255.255.255.255/v3", "broadcast"),
        ("http://0.0.0.0/v3", "unspecified"),
        ("http://[::]/v3", "unspecified"),
    ],
)
def test_addresses_that_name_no_single_host_are_refused(url: str, reason: str) -> None:
    with pytest.raises(InvalidConfig) as raised:
        target_from_auth_url(url)
    assert raised.value.message.startswith(f"auth_url {url!r}: ")
    assert reason in raised.value.message


def test_an_ipv4_mapped_address_is_probed_as_the_ipv4_host_it_maps() -> None:
    target = target_from_auth_url("https://[::ffff:127.0.0.1]:5000/v3")
    assert (target.host, target.port) == ("127.0.0.1", 5000)


async def test_a_name_that_resolves_to_a_group_address_is_not_probed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def getaddrinfo(host: str, port: object, **kwargs: object) -> list:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("239.1.2.3", 0))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    with pytest.raises(OSError, match="multicast"):
        await resolve("group.example.com")
