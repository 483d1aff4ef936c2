"""vimwatch with VIMWATCH_AUTH=keystone behind a real Keystone, used by the real clients with
ordinary OS_* credentials: vimwatch is found in the catalog, each token is checked with
Keystone, projects are kept apart, and VIM credentials are checked against the cloud."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.clients.commands import Client
from tests.clients.conftest import SERVICE_PASSWORD, VIM_USER_PASSWORD
from tests.clients.keystone import Account, Keystone
from tests.service import Server, write_openstack_config

pytestmark = pytest.mark.clients

AsUser = Callable[[str, str], Client]


@pytest.fixture(scope="module")
def keystone_server(
    real_keystone: Keystone, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """vimwatch in keystone mode, in the catalog as nfv-orchestration and workflowv2."""
    server = Server(
        tmp_path_factory.mktemp("keystone-mode") / "state",
        env={
            "VIMWATCH_AUTH": "keystone",
            "VIMWATCH_KEYSTONE_URL": real_keystone.url,
            "VIMWATCH_KEYSTONE_PASSWORD": SERVICE_PASSWORD,
            "VIMWATCH_MONITOR_PROBE": "http",
            # The members' clouds are the test suite's Keystone, on this host's loopback,
            # which the outbound policy keeps members from by default.
            "VIMWATCH_OUTBOUND_DENIED": "[]",
        },
    )
    services = [
        real_keystone.register_service("nfv-orchestration", "vimwatch", server.url),
        real_keystone.register_service("workflowv2", "vimwatch-workflows", f"{server.url}/v2"),
    ]
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for service_id in services:
            real_keystone.remove_service(service_id)


@pytest.fixture(scope="module")
def accounts(real_keystone: Keystone) -> dict[str, Account]:
    return {
        "alice": real_keystone.create_account("alice", "alice-pw", "alpha", "member"),
        "bob": real_keystone.create_account("bob", "bob-pw", "beta", "member"),
        "admin": real_keystone.admin,
    }


@pytest.fixture
def vim_config(real_keystone: Keystone, tmp_path: Path) -> Path:
    """A VIM whose cloud is the real Keystone (the nfv_user account)."""
    return write_openstack_config(tmp_path / "vim.yaml", real_keystone.url, VIM_USER_PASSWORD)


@pytest.fixture
def as_user(
    openstack_env: Path,
    mistral_env: Path,
    client_home: Path,
    accounts: dict[str, Account],
    keystone_server: Server,
) -> AsUser:
    """`as_user("alice", "openstack")`: a client program logged in as that account."""
    programs = {
        "openstack": openstack_env / "bin" / "openstack",
        "tacker": openstack_env / "bin" / "tacker",
        "mistral": mistral_env / "bin" / "mistral",
    }

    def client(user: str, program: str) -> Client:
        return Client(programs[program], env=accounts[user].os_env(), home=client_home)

    return client


def register(client: Client, config: Path, name: str) -> dict:
    return client.json("vim", "register", "--config-file", str(config), name)


def names(client: Client) -> set[str]:
    return {vim["Name"] for vim in client.json("vim", "list")}


def test_clients_find_vimwatch_in_the_catalog_and_log_in_with_os_variables(
    as_user: AsUser, real_keystone: Keystone, vim_config: Path, keystone_server: Server
) -> None:
    openstack = as_user("alice", "openstack")

    vim = register(openstack, vim_config, "ks-alpha-site")

    assert vim["project_id"] == real_keystone.project_id("alpha")
    assert vim["placement_attr"] == {"regions": ["RegionOne", "RegionTwo"]}
    tacker = as_user("alice", "tacker")
    assert [v["name"] for v in tacker.json("vim-list", "--name", "ks-alpha-site")] == [
        "ks-alpha-site"
    ]

    def status() -> str | None:
        value = openstack.value("vim", "show", "ks-alpha-site", "-c", "status")
        return value if value == "REACHABLE" else None

    assert keystone_server.wait_for(status, timeout=30) == "REACHABLE"

    openstack.run("vim", "delete", "ks-alpha-site")
    assert "ks-alpha-site" not in names(openstack)


def test_mistral_finds_the_workflow_api_as_workflowv2(
    as_user: AsUser, real_keystone: Keystone, vim_config: Path
) -> None:
    vim_id = register(as_user("alice", "openstack"), vim_config, "ks-workflows")["id"]
    mistral = as_user("alice", "mistral")

    workflows = mistral.json("workflow-list", "--filter", f"name=vim_id_{vim_id}")

    assert [(w["Name"], w["Project ID"]) for w in workflows] == [
        (f"vim_id_{vim_id}", real_keystone.project_id("alpha"))
    ]
    executions = mistral.json("execution-list", "--filter", f"workflow_name=vim_id_{vim_id}")
    assert [e["State"] for e in executions] == ["RUNNING"]
    assert "Workflow not found" in as_user("bob", "mistral").fails(
        "workflow-get", f"vim_id_{vim_id}"
    )


def test_a_member_sees_only_its_project_and_the_admin_sees_all(
    as_user: AsUser, real_keystone: Keystone, vim_config: Path
) -> None:
    alice, bob, admin = (as_user(user, "openstack") for user in ("alice", "bob", "admin"))
    alice_vim = register(alice, vim_config, "ks-alice-only")["id"]
    register(bob, vim_config, "ks-bob-only")

    seen_by_alice, seen_by_bob = names(alice), names(bob)
    assert "ks-alice-only" in seen_by_alice and "ks-bob-only" not in seen_by_alice
    assert "ks-bob-only" in seen_by_bob and "ks-alice-only" not in seen_by_bob
    assert {"ks-alice-only", "ks-bob-only"} <= names(admin)

    assert f"Unable to find vim with name '{alice_vim}'" in bob.fails("vim", "show", alice_vim)
    assert "Unable to delete the below vim(s)" in bob.fails("vim", "delete", alice_vim)
    assert admin.value("vim", "show", alice_vim, "-c", "name") == "ks-alice-only"

    beta = real_keystone.project_id("beta")
    message = alice.fails(
        "vim", "register", "--config-file", str(vim_config), "ks-alice-in-beta", "--tenant-id", beta
    )
    assert "other than authenticated tenant in request requires admin privileges" in message


def test_a_wrong_vim_password_is_refused_with_the_reason_and_nothing_is_stored(
    as_user: AsUser, real_keystone: Keystone, tmp_path: Path
) -> None:
    config = write_openstack_config(tmp_path / "wrong.yaml", real_keystone.url, "not-the-pw")
    alice = as_user("alice", "openstack")

    message = alice.fails("vim", "register", "--config-file", str(config), "ks-wrong-pw")

    assert "rejected the credentials" in message
    assert "not-the-pw" not in message
    assert "ks-wrong-pw" not in names(as_user("admin", "openstack"))


def test_a_keystone_token_is_accepted_as_admin_token_with_its_own_scope(
    as_user: AsUser,
    openstack_env: Path,
    client_home: Path,
    keystone_server: Server,
    vim_config: Path,
) -> None:
    register(as_user("bob", "openstack"), vim_config, "ks-bob-token")
    register(as_user("alice", "openstack"), vim_config, "ks-alice-hidden")
    token = as_user("bob", "openstack").value("token", "issue", "-c", "id")
    with_token = Client(
        openstack_env / "bin" / "openstack",
        ("--os-auth-type", "admin_token", "--os-endpoint", keystone_server.url),
        env={"OS_TOKEN": token},
        home=client_home,
    )

    seen = names(with_token)
    assert "ks-bob-token" in seen
    assert "ks-alice-hidden" not in seen


def test_requests_without_a_valid_token_are_refused(
    openstack_env: Path, client_home: Path, keystone_server: Server
) -> None:
    no_token = Client(
        openstack_env / "bin" / "tacker",
        ("--os-auth-strategy", "noauth", "--os-url", keystone_server.url),
        home=client_home,
    )
    assert "Authentication required" in no_token.fails("vim-list")

    bad_token = Client(
        openstack_env / "bin" / "openstack",
        ("--os-auth-type", "admin_token", "--os-endpoint", keystone_server.url),
        env={"OS_TOKEN": "not-a-keystone-token"},
        home=client_home,
    )
    assert "The token is invalid or has expired" in bad_token.fails("vim", "list")

    legacy = httpx.get(f"{keystone_server.url}/v1.0/vims.json", timeout=10)
    assert legacy.status_code == 401
    assert legacy.json()["TackerError"]["type"] == "NotAuthenticated"
    workflows = httpx.get(
        f"{keystone_server.url}/v2/workflows", headers={"X-Auth-Token": "bogus"}, timeout=10
    )
    assert workflows.status_code == 401
    assert "invalid or has expired" in workflows.json()["faultstring"]


def test_a_tacker_style_config_shows_its_project_in_auth_cred_and_a_duplicate_tackers_message(
    as_user: AsUser, vim_config: Path
) -> None:
    """Validation on, against the real Keystone: Tacker's auth_cred fields come from the
    config file's project, and a second VIM of the name gets Tacker's own words."""
    alice = as_user("alice", "openstack")
    vim = register(alice, vim_config, "ks-tacker-view")
    assert vim["auth_cred"]["project_name"] == "nfv"
    assert vim["auth_cred"]["project_domain_name"] == "Default"
    assert vim["auth_cred"]["key_type"] == "fernet_key"

    message = alice.fails("vim", "register", "--config-file", str(vim_config), "ks-tacker-view")
    assert "vim already exist with given ['tenant_id', 'name', 'deleted_at']" in message
