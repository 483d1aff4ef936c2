"""The `kubernetes` API check against a loopback HTTPS API server double (tests/fakes).

No real Kubernetes API server installs here (Debian ships only kubectl and etcd, PyPI
only clients), so the double speaks what the check uses: /readyz, /healthz, bearer
tokens, OIDC id_tokens and client certificates, over TLS with a private CA.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.fakes import CertificateAuthority, ClientCertificate
from tests.fakes.kubernetes import FakeKubernetes
from vimwatch.drivers.kubernetes import Credentials, tls_context
from vimwatch.monitor.checks.kubernetes import KubernetesAccess
from vimwatch.monitor.checks.runner import ApiChecks, ApiSettings, CheckState, VimAccess

TOKEN = "bearer-token-of-the-vim"


@pytest.fixture
def cluster() -> Iterator[FakeKubernetes]:
    with FakeKubernetes(
        token=TOKEN, users={"alice": "alice-pw"}, tls=True, oidc_client=("vimwatch", None)
    ) as fake:
        yield fake


def access(cluster: FakeKubernetes, **credentials: str) -> KubernetesAccess:
    return KubernetesAccess(base_url=cluster.url, verify=tls_context(cluster.ca_pem), **credentials)


def run(target: KubernetesAccess, checks_wanted: int, between=None) -> tuple[ApiChecks, CheckState]:  # noqa: ANN001
    """Run the VIM's check every 0.1 s until it ran `checks_wanted` times (calling
    `between()` once halfway); the checks and the VIM's state then."""

    async def load(vim_id: str) -> VimAccess:
        return VimAccess(target, "fingerprint")

    async def go() -> tuple[ApiChecks, CheckState]:
        checks = ApiChecks(load, lambda vim_id: None, concurrency=2)
        await checks.start()
        checks.add("vim", ApiSettings(interval=0.1, timeout=2.0))
        pending = [between] if between is not None else []
        while checks.checks_run < checks_wanted:
            if pending and checks.checks_run >= checks_wanted // 2:
                pending.pop()()
            await asyncio.sleep(0.02)
        state = checks.state_of("vim")
        await checks.close()
        return checks, state

    return asyncio.run(go())


def test_a_ready_api_server_passes_with_the_bearer_token(cluster: FakeKubernetes) -> None:
    checks, state = run(access(cluster, bearer_token=TOKEN), 3)
    assert state.state == "passing" and checks.checks_failed == 0
    assert set(cluster.health_checks) == {"/readyz"}
    assert checks.logins == 0


def test_an_api_server_without_readyz_is_asked_for_healthz(cluster: FakeKubernetes) -> None:
    cluster.has_readyz = False
    _, state = run(access(cluster, bearer_token=TOKEN), 2)
    assert state.state == "passing"
    assert "/healthz" in cluster.health_checks


def test_a_server_that_is_not_ready_fails_with_its_status(cluster: FakeKubernetes) -> None:
    cluster.ready = False
    _, state = run(access(cluster, bearer_token=TOKEN), 2)
    assert state.state == "failing"
    assert "not ready" in state.reason and "HTTP 500" in state.reason


def test_a_revoked_bearer_token_is_an_authentication_failure(cluster: FakeKubernetes) -> None:
    _, state = run(access(cluster, bearer_token="revoked-token"), 2)
    assert state.state == "failing" and state.reason.startswith("authentication failed")
    assert "revoked-token" not in state.reason


def test_a_rotated_ca_is_an_authentication_failure_naming_the_certificate(
    cluster: FakeKubernetes,
) -> None:
    target = access(cluster, bearer_token=TOKEN)
    cluster.present(CertificateAuthority("the cluster's new CA").server_identity())
    _, state = run(target, 2)
    assert state.state == "failing" and state.reason.startswith("authentication failed")
    assert "the VIM's trusted CA did not sign" in state.reason
    assert "certificate verify failed" in state.reason


def test_the_oidc_id_token_is_kept_and_fetched_again_when_refused(
    cluster: FakeKubernetes,
) -> None:
    target = access(
        cluster,
        oidc_token_url=cluster.oidc_token_url,
        username="alice",
        password="alice-pw",
        client_id="vimwatch",
    )
    checks, state = run(target, 8, between=cluster.tokens.clear)
    assert state.state == "passing"
    # One login, and one more after the provider forgot the first id_token.
    assert cluster.id_tokens_granted == 2 and checks.logins == 2


def test_a_wrong_oidc_password_fails_and_backs_off(cluster: FakeKubernetes) -> None:
    target = access(
        cluster,
        oidc_token_url=cluster.oidc_token_url,
        username="alice",
        password="wrong",
        client_id="vimwatch",
    )
    checks, state = run(target, 6)
    assert state.state == "failing" and state.reason.startswith("authentication failed")
    # 0.1 s interval, the wait doubling: logins at ~0, 0.1, 0.3 s while six checks ran.
    assert checks.failed_logins <= 3 < checks.checks_run


@pytest.fixture
def client_ca() -> CertificateAuthority:
    return CertificateAuthority("the cluster's client CA")


@pytest.fixture
def cert_cluster(client_ca: CertificateAuthority) -> Iterator[FakeKubernetes]:
    with FakeKubernetes(tls=True, client_ca_pem=client_ca.ca_pem) as fake:
        yield fake


def certificate_access(cluster: FakeKubernetes, certificate: ClientCertificate) -> KubernetesAccess:
    credentials = Credentials(client_cert=certificate.cert_pem, client_key=certificate.key_pem)
    return KubernetesAccess(
        base_url=cluster.url,
        verify=tls_context(cluster.ca_pem, credentials),
        client_cert=certificate.cert_pem,
        client_key=certificate.key_pem,
    )


def test_a_client_certificate_the_cluster_trusts_passes(
    cert_cluster: FakeKubernetes, client_ca: CertificateAuthority
) -> None:
    certificate = client_ca.client_certificate("vimwatch", groups=("system:monitoring",))
    checks, state = run(certificate_access(cert_cluster, certificate), 3)
    assert state.state == "passing" and checks.checks_failed == 0
    assert set(cert_cluster.certificate_users) == {"vimwatch"}
    assert all("Authorization" not in request.headers for request in cert_cluster.requests)
    assert checks.logins == 0


def test_a_client_certificate_the_cluster_does_not_trust_is_an_authentication_failure(
    cert_cluster: FakeKubernetes,
) -> None:
    stranger = CertificateAuthority("another cluster's client CA").client_certificate("vimwatch")
    checks, state = run(certificate_access(cert_cluster, stranger), 3)
    assert state.state == "failing" and checks.checks_failed == checks.checks_run
    assert state.reason.startswith("authentication failed")
    assert "refused the client certificate (tlsv1 alert unknown ca)" in state.reason
    assert cert_cluster.certificate_users == []


def test_a_client_certificate_with_a_rotated_server_ca_names_the_server_certificate(
    cert_cluster: FakeKubernetes, client_ca: CertificateAuthority
) -> None:
    target = certificate_access(cert_cluster, client_ca.client_certificate("vimwatch"))
    cert_cluster.present(CertificateAuthority("the cluster's new CA").server_identity())
    _, state = run(target, 2)
    assert state.state == "failing" and state.reason.startswith("authentication failed")
    assert "certificate verify failed" in state.reason
    assert target.client_key is not None and target.client_key not in state.reason


def test_logins_that_go_unanswered_after_a_refusal_keep_backing_off(
    cluster: FakeKubernetes,
) -> None:
    """A wrong password at a provider that turns slow: the logins it no longer answers
    within the timeout may still count against the account, so they back off too."""
    target = access(
        cluster,
        oidc_token_url=cluster.oidc_token_url,
        username="alice",
        password="wrong",
        client_id="vimwatch",
    )

    async def load(vim_id: str) -> VimAccess:
        return VimAccess(target, "fingerprint")

    async def go() -> ApiChecks:
        checks = ApiChecks(load, lambda vim_id: None, concurrency=2)
        await checks.start()
        checks.add("vim", ApiSettings(interval=0.2, timeout=0.1))
        while checks.failed_logins < 1:
            await asyncio.sleep(0.02)
        cluster.oidc_delay = 0.5
        refused_at = checks.checks_run
        while checks.checks_run < refused_at + 20:
            await asyncio.sleep(0.02)
        await checks.close()
        return checks

    checks = asyncio.run(go())
    # Twenty checks (four seconds at 0.2 s) after the refusal: logins at about 0.2,
    # 0.6, 1.4 and 3.0 s, the wait doubling, not one per check.
    assert checks.failed_logins == 1
    assert 2 <= cluster.logins_received <= 6 < checks.checks_run
