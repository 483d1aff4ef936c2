"""Kubernetes VIMs, and the tcp and http probes an operator can choose per VIM."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.fakes.kubernetes import FakeKubernetes
from tests.service import Server

TOKEN = "k8s-bearer-token-do-not-leak"


@pytest.fixture
def kubernetes() -> Iterator[FakeKubernetes]:
    with FakeKubernetes(token=TOKEN, namespaces=["default", "kube-system"], tls=True) as k8s:
        yield k8s


def k8s_body(k8s: FakeKubernetes, token: str = TOKEN) -> dict:
    return {
        "vim": {
            "name": "k8s",
            "type": "kubernetes",
            "auth_url": k8s.url,
            "auth_cred": {"bearer_token": token, "ssl_ca_cert": k8s.ca_pem},
            "vim_project": {"name": "default"},
            "extra": {"monitor": {"probe": "tcp"}},
        }
    }


def test_kubernetes_vim_is_validated_over_tls_and_lists_namespaces(server, kubernetes) -> None:
    response = server.api("POST", "/v1.0/vims", json=k8s_body(kubernetes))
    assert response.status_code == 201, response.text
    vim = response.json()["vim"]
    assert vim["placement_attr"]["namespaces"] == ["default", "kube-system"]
    # Tacker's kubernetes driver added these; "None"/null mark a cluster reached by token.
    assert vim["auth_cred"] == {
        "bearer_token": "***",
        "ssl_ca_cert": "***",
        "auth_url": kubernetes.url,
        "username": "None",
        "password": None,
        "key_type": "fernet_key",
    }
    server.wait_for(lambda: server.vim_status(vim["id"]) == "REACHABLE")
    assert TOKEN not in server.api("GET", f"/v1.0/vims/{vim['id']}").text


def test_kubernetes_vim_with_a_wrong_token_is_refused(server, kubernetes) -> None:
    response = server.api("POST", "/v1.0/vims", json=k8s_body(kubernetes, "wrong-token"))
    assert response.status_code == 400
    assert "rejected the credentials" in response.json()["TackerError"]["message"]
    assert server.api("GET", "/v1.0/vims").json() == {"vims": []}


def test_http_probe_follows_the_api_itself_not_just_the_host(tmp_path, keystone) -> None:
    server = Server(tmp_path / "state").start()
    try:
        body = {
            "vim": {
                "name": "api-watched",
                "type": "openstack",
                "auth_url": keystone.url,
                "auth_cred": {"username": "nfv_user", "password": PASSWORD},
                "vim_project": {"name": "nfv"},
                "extra": {"monitor": {"probe": "http", "down_after": 2}},
            }
        }
        vim_id = server.api("POST", "/v1.0/vims", json=body).json()["vim"]["id"]
        server.wait_for(lambda: server.vim_status(vim_id) == "REACHABLE")
        keystone.stop()
        server.wait_for(lambda: server.vim_status(vim_id) == "UNREACHABLE")
        events = server.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()
        assert [e["resource_state"] for e in events["events"] if e["event_type"] == "MONITOR"] == [
            "REACHABLE",
            "UNREACHABLE",
        ]
    finally:
        server.stop()


def test_tcp_probe_sees_a_closed_port_as_unreachable(tmp_path) -> None:
    server = Server(tmp_path / "state", env={"VIMWATCH_VALIDATE_VIMS": "false"}).start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        body = {
            "vim": {
                "name": "tcp-watched",
                "type": "openstack",
                "auth_url": f"http://127.0.0.1:{port}/",
                "auth_cred": {"username": "u", "password": "p"},
                "vim_project": {"name": "nfv"},
                "extra": {"monitor": {"probe": "tcp"}},
            }
        }
        vim_id = server.api("POST", "/v1.0/vims", json=body).json()["vim"]["id"]
        server.wait_for(lambda: server.vim_status(vim_id) == "REACHABLE")
        listener.close()
        server.wait_for(lambda: server.vim_status(vim_id) == "UNREACHABLE")
    finally:
        listener.close()
        server.stop()
