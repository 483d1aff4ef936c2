"""`openstack vim ...` (python-openstackclient with python-tackerclient) against `vimwatch
serve` without Keystone: every VIM command, by name and by id, and the errors a user meets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clients.commands import Client
from tests.service import Server, write_openstack_config

pytestmark = pytest.mark.clients


def register(openstack: Client, config: Path, name: str, *options: str) -> dict:
    return openstack.json("vim", "register", "--config-file", str(config), name, *options)


def listed_names(openstack: Client) -> list[str]:
    return [vim["Name"] for vim in openstack.json("vim", "list")]


def test_register_without_tenant_id_lands_in_the_callers_project(
    openstack: Client, vim_config: Path
) -> None:
    vim = register(openstack, vim_config, "os-plain", "--description", "first site")

    assert vim["name"] == "os-plain"
    assert vim["status"] == "PENDING"
    assert vim["project_id"] == "default"
    assert vim["description"] == "first site"
    assert vim["auth_cred"]["password"] == "***"
    assert vim["auth_url"].endswith("/identity/v3")
    assert vim["vim_project"] == {"name": "nfv", "project_domain_name": "Default"}
    # The fields Tacker's driver copied into auth_cred, in create and show alike.
    derived = {
        "project_id": None,
        "project_name": "nfv",
        "project_domain_name": "Default",
        "auth_url": vim["auth_url"],
        "key_type": "fernet_key",
    }
    assert derived.items() <= vim["auth_cred"].items()
    assert derived.items() <= openstack.json("vim", "show", vim["id"])["auth_cred"].items()


def test_register_with_tenant_id_places_the_vim_in_that_project(
    openstack: Client, vim_config: Path
) -> None:
    register(openstack, vim_config, "os-tenant", "--tenant-id", "tenant-b")

    rows = openstack.csv("vim", "list", "-c", "Name", "-c", "Tenant_id")
    assert {"Name": "os-tenant", "Tenant_id": "tenant-b"} in rows


def test_show_set_and_delete_find_a_vim_by_name_and_by_id(
    openstack: Client, vim_config: Path
) -> None:
    vim_id = register(openstack, vim_config, "os-life")["id"]

    assert openstack.value("vim", "show", "os-life", "-c", "id") == vim_id
    assert openstack.value("vim", "show", vim_id, "-c", "name") == "os-life"

    openstack.run("vim", "set", vim_id, "--name", "os-life-2", "--description", "renamed")
    shown = openstack.json("vim", "show", "os-life-2")
    assert (shown["id"], shown["description"]) == (vim_id, "renamed")
    assert shown["updated_at"] is not None

    openstack.run("vim", "set", "os-life-2", "--is-default", "True")
    assert openstack.json("vim", "show", vim_id, "-c", "is_default") == {"is_default": True}

    deleted = openstack.run("vim", "delete", "os-life-2")
    assert "All specified vim(s) deleted successfully" in deleted.stdout
    assert "os-life-2" not in listed_names(openstack)
    assert f"Unable to find vim with name '{vim_id}'" in openstack.fails("vim", "show", vim_id)


def test_set_with_a_config_file_replaces_the_credentials_and_keeps_them_masked(
    openstack: Client, noauth_server: Server, tmp_path: Path
) -> None:
    first = write_openstack_config(tmp_path / "a.yaml", f"{noauth_server.url}/identity", "pw-one")
    second = write_openstack_config(
        tmp_path / "b.yaml", f"{noauth_server.url}/identity", "pw-two", username="other_user"
    )
    register(openstack, first, "os-recred")

    openstack.run("vim", "set", "os-recred", "--config-file", str(second))

    shown = openstack.run("vim", "show", "os-recred", "-f", "json").stdout
    assert json.loads(shown)["auth_cred"]["username"] == "other_user"
    assert "pw-one" not in shown and "pw-two" not in shown


def test_list_shows_the_columns_and_long_placement(openstack: Client, vim_config: Path) -> None:
    vim_id = register(openstack, vim_config, "os-columns")["id"]

    rows = openstack.csv("vim", "list", "--long")
    row = next(r for r in rows if r["ID"] == vim_id)
    assert set(row) == {
        "ID", "Name", "Tenant_id", "Type", "Is Default", "Placement attribution", "Status",
    }  # fmt: skip
    assert (row["Name"], row["Type"], row["Is Default"]) == ("os-columns", "openstack", "False")
    assert row["Status"] in {"PENDING", "REACHABLE"}


def test_the_vim_becomes_reachable_as_seen_by_the_client(
    openstack: Client, vim_config: Path, noauth_server: Server
) -> None:
    register(openstack, vim_config, "os-watch")

    def status() -> str | None:
        value = openstack.value("vim", "show", "os-watch", "-c", "status")
        return value if value == "REACHABLE" else None

    assert noauth_server.wait_for(status, timeout=30) == "REACHABLE"


def test_a_kubernetes_vim_registers_with_its_token_masked(
    openstack: Client, noauth_server: Server, tmp_path: Path
) -> None:
    config = tmp_path / "k8s.yaml"
    config.write_text(
        json.dumps(
            {
                "auth_url": f"{noauth_server.url}/k8s",
                "bearer_token": "k8s-bearer-secret",
                "project_name": "default",
                "type": "kubernetes",
            }
        )
    )

    created = openstack.run("vim", "register", "--config-file", str(config), "os-k8s", "-f", "json")

    vim = json.loads(created.stdout)
    assert vim["type"] == "kubernetes"
    assert vim["auth_cred"]["bearer_token"] == "***"
    assert (vim["auth_cred"]["username"], vim["auth_cred"]["password"]) == ("None", None)
    assert vim["auth_cred"]["key_type"] == "fernet_key"
    assert "k8s-bearer-secret" not in created.stdout


def test_admin_token_auth_type_is_accepted_without_keystone(
    openstack_env: Path, noauth_server: Server, client_home: Path, vim_config: Path
) -> None:
    with_token = Client(
        openstack_env / "bin" / "openstack",
        ("--os-auth-type", "admin_token", "--os-endpoint", noauth_server.url),
        env={"OS_TOKEN": "faketoken"},
        home=client_home,
    )

    register(with_token, vim_config, "os-admin-token")

    assert "os-admin-token" in listed_names(with_token)


def test_a_duplicate_name_is_refused_with_a_message(openstack: Client, vim_config: Path) -> None:
    register(openstack, vim_config, "os-twice")

    message = openstack.fails("vim", "register", "--config-file", str(vim_config), "os-twice")

    assert "vim already exist with given ['tenant_id', 'name', 'deleted_at']" in message
    assert listed_names(openstack).count("os-twice") == 1


def test_a_second_default_vim_is_refused_with_a_message(
    openstack: Client, vim_config: Path
) -> None:
    first = register(
        openstack, vim_config, "os-default-1", "--is-default", "--tenant-id", "defaults"
    )

    message = openstack.fails(
        "vim", "register", "--config-file", str(vim_config), "os-default-2", "--is-default",
        "--tenant-id", "defaults",
    )  # fmt: skip

    assert f"Default VIM already exists {first['id']}." in message
    assert "os-default-2" not in listed_names(openstack)


def test_an_unknown_vim_is_reported_by_show_set_and_delete(openstack: Client) -> None:
    assert "Unable to find vim with name 'nowhere'" in openstack.fails("vim", "show", "nowhere")
    assert "Unable to find vim with name 'nowhere'" in openstack.fails(
        "vim", "set", "nowhere", "--description", "x"
    )
    message = openstack.fails("vim", "delete", "nowhere")
    assert "Unable to delete the below vim(s)" in message
    assert "nowhere" in message


OPENSTACK = {"username": "nfv_user", "project_name": "nfv", "cert_verify": "True"}
KUBERNETES = {"type": "kubernetes", "project_name": "default", "bearer_token": "t"}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (OPENSTACK, "auth_cred.password is required"),
        ({**OPENSTACK, "password": "pw", "scheme": "ftp"}, "auth_url must be an http or https URL"),
        ({**OPENSTACK, "password": "pw", "extra": "text"}, "vim.extra"),
        ({**KUBERNETES, "ssl_ca_cert": "not a certificate"}, "is not a PEM CA bundle"),
    ],
    ids=["no-password", "not-http", "extra-not-a-mapping", "bad-ca-cert"],
)
def test_a_bad_config_is_refused_with_the_reason_and_nothing_stored(
    openstack: Client, noauth_server: Server, tmp_path: Path, config: dict, expected: str
) -> None:
    config = dict(config)
    scheme = config.pop("scheme", "http")
    config["auth_url"] = f"{scheme}://127.0.0.1:{noauth_server.port}/identity"
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(config))
    name = f"os-bad-{tmp_path.name}"

    message = openstack.fails("vim", "register", "--config-file", str(path), name)

    assert expected in message
    assert name not in listed_names(openstack)
