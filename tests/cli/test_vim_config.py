"""Tacker VIM config files become request bodies; broken files are explained, not sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.service import Server
from vimwatch.cli.client import CommandError
from vimwatch.cli.vim_config import body_from_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vim.yaml"
    path.write_text(text)
    return path


def test_openstack_config_becomes_the_tacker_body(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
auth_url: http://127.0.0.1/identity
username: nfv_user
password: pw
project_name: nfv
project_domain_name: Default
user_domain_name: Default
""",
    )
    assert body_from_config(path) == {
        "type": "openstack",
        "auth_url": "http://127.0.0.1/identity",
        "vim_project": {"name": "nfv", "project_domain_name": "Default"},
        "auth_cred": {
            "username": "nfv_user",
            "password": "pw",
            "user_domain_name": "Default",
            "cert_verify": "True",
        },
    }


def test_kubernetes_bearer_token_config_with_ca_and_extra(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
type: kubernetes
auth_url: https://127.0.0.1:6443
project_name: default
bearer_token: tok
ssl_ca_cert: "-----BEGIN CERTIFICATE-----"
extra: {helm_info: x}
""",
    )
    body = body_from_config(path)
    assert body["auth_cred"] == {
        "bearer_token": "tok",
        "ssl_ca_cert": "-----BEGIN CERTIFICATE-----",
    }
    assert body["vim_project"] == {"name": "default"} and body["extra"] == {"helm_info": "x"}


def test_kubernetes_client_certificate_config(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
type: kubernetes
auth_url: https://127.0.0.1:6443
project_name: default
client_cert: "-----BEGIN CERTIFICATE-----"
client_key: "-----BEGIN PRIVATE KEY-----"
ssl_ca_cert: "-----BEGIN CERTIFICATE----- CA"
""",
    )
    assert body_from_config(path)["auth_cred"] == {
        "client_cert": "-----BEGIN CERTIFICATE-----",
        "client_key": "-----BEGIN PRIVATE KEY-----",
        "ssl_ca_cert": "-----BEGIN CERTIFICATE----- CA",
    }
    without_key = "type: kubernetes\nauth_url: https://k\nproject_name: p\nclient_cert: c\n"
    with pytest.raises(CommandError, match="'client_key' is required"):
        body_from_config(write(tmp_path, without_key))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("auth_url: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "YAML mapping"),
        ("username: u\nproject_name: p\n", "'auth_url' is required"),
        ("auth_url: 127.0.0.1:5000\nproject_name: p\n", "needs a scheme and a host"),
        ("auth_url: http://127.0.0.1\n", "'project_name' is required"),
        ("type: kubernetes\nauth_url: https://127.0.0.1\nproject_name: p\n", "bearer_token"),
        ("type: vmware\nauth_url: http://127.0.0.1\nproject_name: p\n", "openstack or kubernetes"),
    ],
)
def test_broken_config_files_are_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        body_from_config(write(tmp_path, text))


def test_cli_exits_non_zero_with_one_line_for_a_broken_file(tmp_path: Path) -> None:
    result = Server(tmp_path).cli(
        "vim", "register", "--config-file", str(write(tmp_path, "auth_url: [x")), "v", check=False
    )
    assert result.returncode != 0
    assert "not valid YAML" in result.stderr and "Traceback" not in result.stderr


OPENSTACK = """
auth_url: http://127.0.0.1/identity
username: nfv_user
password: pw
project_name: nfv
"""


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("project_domian_name: Default", "project_domain_name"),
        ("cert_verfy: 'False'", "cert_verify"),
        ("user_domain: Default", "user_domain_name"),
    ],
)
def test_a_mistyped_key_is_refused_naming_the_file_and_the_key_meant(
    tmp_path: Path, typo: str, meant: str
) -> None:
    path = write(tmp_path, OPENSTACK + typo + "\n")
    key = typo.split(":")[0]
    with pytest.raises(CommandError) as caught:
        body_from_config(path)
    assert str(caught.value) == f"{path}: unknown key '{key}' (did you mean '{meant}'?)"


def test_a_kubernetes_config_is_checked_against_its_own_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path, "type: kubernetes\nauth_url: https://k\nproject_name: d\nbearer_tokn: t\n"
    )
    with pytest.raises(
        CommandError, match=r"unknown key 'bearer_tokn' \(did you mean 'bearer_token'"
    ):
        body_from_config(path)


def test_a_key_of_the_other_vim_type_is_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path, OPENSTACK + "client_id: c\n")
    with pytest.raises(CommandError, match=r"unknown key 'client_id' \(known keys: type, "):
        body_from_config(path)


def test_a_mistyped_required_key_is_named_as_the_file_spells_it(tmp_path: Path) -> None:
    path = write(tmp_path, OPENSTACK.replace("username", "usrname"))
    with pytest.raises(CommandError, match="unknown key 'usrname' .did you mean 'username'"):
        body_from_config(path)
    path = write(tmp_path, OPENSTACK.replace("username: nfv_user\n", ""))
    with pytest.raises(CommandError, match=f"^{path}: 'username' is required$"):
        body_from_config(path)


def test_register_with_a_typo_exits_non_zero_and_registers_nothing(
    quiet_server: Server, tmp_path: Path
) -> None:
    path = write(tmp_path, OPENSTACK + "project_domian_name: Default\n")
    result = quiet_server.cli("vim", "register", "--config-file", str(path), "typo", check=False)
    assert result.returncode != 0
    assert "unknown key 'project_domian_name'" in result.stderr
    assert quiet_server.api("GET", "/v1.0/vims").json()["vims"] == []
