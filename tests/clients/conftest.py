"""Fixtures for the real-client suites: cached client environments, a real Keystone, and
vimwatch servers for the clients to talk to.

Servers are shared by the tests of one module (each test uses its own VIM names), because
the clients cost about a second per command and a server start would add several more.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.commands import Client
from tests.clients.keystone import Keystone
from tests.clients.venvs import ensure_environment
from tests.service import Server, write_openstack_config

SERVICE_PASSWORD = "vimwatch-service-pw"
VIM_USER_PASSWORD = "nfv-user-pw"


@pytest.fixture(scope="session")
def client_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty home directory, so no clouds.yaml of the person running tests is read."""
    return tmp_path_factory.mktemp("client-home")


@pytest.fixture(scope="session")
def openstack_env() -> Path:
    return ensure_environment("openstack")


@pytest.fixture(scope="session")
def tacker_legacy_env() -> Path:
    return ensure_environment("tacker-legacy")


@pytest.fixture(scope="session")
def mistral_env() -> Path:
    return ensure_environment("mistral")


@pytest.fixture(scope="session")
def real_keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keystone]:
    """One Keystone for the whole run: vimwatch's service account, and a user of a cloud
    with two regions whose credentials VIM registrations are checked against."""
    keystone = Keystone(ensure_environment("keystone"), tmp_path_factory.mktemp("keystone"))
    keystone.start()
    try:
        keystone.create_account("vimwatch", SERVICE_PASSWORD, "service", "service")
        keystone.create_account("nfv_user", VIM_USER_PASSWORD, "nfv", "member")
        keystone.create_region("RegionTwo")
        yield keystone
    finally:
        keystone.stop()


@pytest.fixture(scope="module")
def noauth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """vimwatch with VIMWATCH_AUTH=noauth, not checking VIMs against a cloud.

    VIMs registered here point at the server itself, which the http probe finds answering,
    so they become REACHABLE without any other process.
    """
    server = Server(
        tmp_path_factory.mktemp("noauth") / "state",
        env={"VIMWATCH_VALIDATE_VIMS": "false", "VIMWATCH_MONITOR_PROBE": "http"},
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def vim_config(noauth_server: Server, tmp_path: Path) -> Path:
    """A Tacker VIM config file (the seed's ~/testvim_config.yaml) for the noauth server."""
    return write_openstack_config(tmp_path / "vim.yaml", f"{noauth_server.url}/identity")


@pytest.fixture
def openstack(openstack_env: Path, noauth_server: Server, client_home: Path) -> Client:
    """`openstack` (python-openstackclient with python-tackerclient) without Keystone."""
    return Client(
        openstack_env / "bin" / "openstack",
        ("--os-auth-type", "none", "--os-endpoint", noauth_server.url),
        home=client_home,
    )


@pytest.fixture
def tacker(openstack_env: Path, noauth_server: Server, client_home: Path) -> Client:
    """The legacy `tacker` command of the current python-tackerclient, without Keystone."""
    return Client(
        openstack_env / "bin" / "tacker",
        ("--os-auth-strategy", "noauth", "--os-url", noauth_server.url),
        home=client_home,
    )


@pytest.fixture
def mistral(mistral_env: Path, noauth_server: Server, client_home: Path) -> Client:
    """`mistral` (python-mistralclient) against vimwatch's Mistral-compatible API."""
    return Client(
        mistral_env / "bin" / "mistral",
        ("--os-mistral-url", f"{noauth_server.url}/v2"),
        home=client_home,
    )
