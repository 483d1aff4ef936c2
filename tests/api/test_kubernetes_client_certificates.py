"""A Kubernetes VIM registered with a client certificate, through the API and its engine:
REACHABLE while its `kubernetes` API check passes; a certificate the cluster stops
trusting, or a cluster CA rotated away from the registered one, turns it UNREACHABLE with
`authentication failed`, and `vim update` with the new credentials brings it back.

The API server is the loopback HTTPS double of tests/fakes (no real one installs here),
which verifies client certificates against its client CA as `--client-ca-file` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes import CertificateAuthority, ClientCertificate
from tests.fakes.kubernetes import FakeKubernetes
from tests.service import Server

API_INTERVAL = 1.0


@pytest.fixture
def client_ca() -> CertificateAuthority:
    return CertificateAuthority("the cluster's client CA")


@pytest.fixture
def cluster(client_ca: CertificateAuthority) -> Iterator[FakeKubernetes]:
    with FakeKubernetes(tls=True, client_ca_pem=client_ca.ca_pem) as k8s:
        yield k8s


def register(server: Server, cluster: FakeKubernetes, certificate: ClientCertificate) -> str:
    body = {
        "vim": {
            "name": "k8s-cert",
            "type": "kubernetes",
            "auth_url": cluster.url,
            "auth_cred": {
                "client_cert": certificate.cert_pem,
                "client_key": certificate.key_pem,
                "ssl_ca_cert": cluster.ca_pem,
            },
            "vim_project": {"name": "default"},
            "extra": {
                "monitor": {
                    "checks": ["icmp", "api"],
                    "api": {"interval": API_INTERVAL, "timeout": API_INTERVAL},
                }
            },
        }
    }
    response = server.api("POST", "/v1.0/vims", json=body)
    assert response.status_code == 201, response.text
    shown = response.json()["vim"]["auth_cred"]
    assert shown["client_cert"] == shown["client_key"] == shown["ssl_ca_cert"] == "***"
    return response.json()["vim"]["id"]


def update(server: Server, vim_id: str, auth_cred: dict[str, str]) -> None:
    response = server.api("PUT", f"/v1.0/vims/{vim_id}", json={"vim": {"auth_cred": auth_cred}})
    assert response.status_code == 200, response.text


def api_check(server: Server, vim_id: str, state: str, status: str) -> dict[str, Any]:
    """Wait until the VIM has `status` and its view shows its API check in `state`."""

    def shown() -> dict[str, Any] | None:
        vim = server.api("GET", f"/v1.0/vims/{vim_id}").json()["vim"]
        check = vim.get("checks", {}).get("api", {})
        return vim if vim["status"] == status and check.get("state") == state else None

    return server.wait_for(shown, timeout=30, interval=0.2)


def test_a_client_certificate_vim_follows_the_trust_between_it_and_its_cluster(
    server: Server, cluster: FakeKubernetes, client_ca: CertificateAuthority
) -> None:
    vim_id = register(server, cluster, client_ca.client_certificate("vimwatch"))
    api_check(server, vim_id, "passing", "REACHABLE")
    assert "vimwatch" in cluster.certificate_users

    # The cluster's client CA is replaced: the registered certificate is no longer trusted.
    new_client_ca = CertificateAuthority("the cluster's new client CA")
    cluster.trust_clients_of(new_client_ca.ca_pem)
    vim = api_check(server, vim_id, "failing", "UNREACHABLE")
    reason = vim["checks"]["api"]["reason"]
    assert reason.startswith("authentication failed") and "client certificate" in reason
    assert vim["checks"]["icmp"]["state"] == "passing"

    renewed = new_client_ca.client_certificate("vimwatch")
    update(server, vim_id, {"client_cert": renewed.cert_pem, "client_key": renewed.key_pem})
    api_check(server, vim_id, "passing", "REACHABLE")

    # The cluster's serving CA is rotated: the registered ssl_ca_cert no longer vouches.
    cluster.present(CertificateAuthority("the cluster's new serving CA").server_identity())
    vim = api_check(server, vim_id, "failing", "UNREACHABLE")
    reason = vim["checks"]["api"]["reason"]
    assert reason.startswith("authentication failed") and "certificate verify failed" in reason
    assert renewed.key_pem not in server.api("GET", f"/v1.0/vims/{vim_id}").text

    update(server, vim_id, {"ssl_ca_cert": cluster.ca_pem or ""})
    api_check(server, vim_id, "passing", "REACHABLE")
    events = server.api("GET", "/v1.0/events", params={"resource_id": vim_id}).json()["events"]
    monitor = [e for e in events if e["event_type"] == "MONITOR"]
    states = [e["resource_state"] for e in monitor]
    assert states == ["REACHABLE", "UNREACHABLE", "REACHABLE", "UNREACHABLE", "REACHABLE"]
    downs = [e["event_details"] for e in monitor if e["resource_state"] == "UNREACHABLE"]
    assert all(d.startswith("api: authentication failed") for d in downs), downs
