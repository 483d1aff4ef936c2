from collections.abc import Iterator

import pytest

from tests.fakes import (
    CertificateAuthority,
    ClientCertificate,
    Request,
    Response,
    closed_port,
    make_tls_identity,
    silent_listener,
)
from tests.fakes.kubernetes import FakeKubernetes, k8s_status
from vimwatch.drivers.base import WITHHELD
from vimwatch.drivers.kubernetes import KubernetesDriver
from vimwatch.errors import InvalidConfig, VimValidationError

TOKEN = "eyJhbGciOiJSUzI1NiJ9.bearer-token-value"
USER = "nfv_user"
PASSWORD = "s3cret-Pa55word"
CLIENT_ID = "vimwatch"
CLIENT_SECRET = "client-secret-value"
NAMESPACES = ["default", "kube-system", "nfv"]
PROJECT = {"name": "default"}

driver = KubernetesDriver()


@pytest.fixture
def cluster() -> Iterator[FakeKubernetes]:
    with FakeKubernetes(
        token=TOKEN,
        users={USER: PASSWORD},
        namespaces=NAMESPACES,
        tls=True,
        oidc_client=(CLIENT_ID, CLIENT_SECRET),
    ) as k8s:
        yield k8s


def oidc_cred(k8s: FakeKubernetes, **changes: object) -> dict:
    base = {
        "oidc_token_url": k8s.oidc_token_url,
        "username": USER,
        "password": PASSWORD,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "ssl_ca_cert": k8s.ca_pem,
    }
    return {**base, **changes}


def test_bearer_token_with_the_cluster_ca_returns_the_namespaces(cluster: FakeKubernetes) -> None:
    placement = driver.validate(
        cluster.url, {"bearer_token": TOKEN, "ssl_ca_cert": cluster.ca_pem}, PROJECT
    )
    assert placement == {"namespaces": NAMESPACES, "regions": NAMESPACES}


def test_basic_auth_returns_the_namespaces(cluster: FakeKubernetes) -> None:
    cred = {"username": USER, "password": PASSWORD, "ssl_ca_cert": cluster.ca_pem}
    assert driver.validate(cluster.url, cred, PROJECT)["namespaces"] == NAMESPACES


def test_oidc_id_token_is_used_as_the_bearer(cluster: FakeKubernetes) -> None:
    assert driver.validate(cluster.url, oidc_cred(cluster), PROJECT)["namespaces"] == NAMESPACES

    grant, *api_calls = cluster.requests
    assert (grant.method, grant.path) == ("POST", "/oidc/token")
    for call in api_calls:
        scheme, _, id_token = call.headers["Authorization"].partition(" ")
        assert scheme == "Bearer" and id_token.startswith("id-")


def test_oidc_public_client_needs_no_secret() -> None:
    with FakeKubernetes(users={USER: PASSWORD}, oidc_client=(CLIENT_ID, None)) as k8s:
        cred = oidc_cred(k8s, client_secret="None", ssl_ca_cert="None")
        assert driver.validate(k8s.url, cred, PROJECT)["namespaces"] == ["default"]


def test_tacker_stored_bearer_shape_is_understood(cluster: FakeKubernetes) -> None:
    cred = {
        "bearer_token": TOKEN,
        "username": "None",
        "password": None,
        "ssl_ca_cert": cluster.ca_pem,
    }
    assert driver.validate(cluster.url, cred, PROJECT)["namespaces"] == NAMESPACES


def test_trailing_slash_in_auth_url_is_harmless(cluster: FakeKubernetes) -> None:
    cred = {"bearer_token": TOKEN, "ssl_ca_cert": cluster.ca_pem}
    driver.validate(cluster.url + "/", cred, PROJECT)
    assert [r.path for r in cluster.requests] == ["/api", "/api/v1/namespaces"]


def test_wrong_token_is_rejected_without_echoing_it(cluster: FakeKubernetes) -> None:
    wrong = "wrong-bearer-token-value"
    with pytest.raises(VimValidationError) as caught:
        driver.validate(
            cluster.url, {"bearer_token": wrong, "ssl_ca_cert": cluster.ca_pem}, PROJECT
        )
    message = caught.value.message
    assert (
        message == f"Kubernetes at {cluster.url} rejected the credentials: Unauthorized (HTTP 401)"
    )
    assert wrong not in message


def test_wrong_basic_password_is_rejected_without_echoing_it(cluster: FakeKubernetes) -> None:
    wrong = "not-the-Pa55word"
    cred = {"username": USER, "password": wrong, "ssl_ca_cert": cluster.ca_pem}
    with pytest.raises(VimValidationError, match="rejected the credentials") as caught:
        driver.validate(cluster.url, cred, PROJECT)
    assert wrong not in caught.value.message


def test_wrong_oidc_password_is_rejected_by_the_provider(cluster: FakeKubernetes) -> None:
    wrong = "not-the-Pa55word"
    with pytest.raises(VimValidationError) as caught:
        driver.validate(cluster.url, oidc_cred(cluster, password=wrong), PROJECT)
    assert caught.value.message == (
        "OIDC authentication and authorization failed. Detail: response code: 401, body: "
        '{"error": "invalid_grant", "error_description": "Invalid user credentials"}'
    )
    assert caught.value.status_code == 400


def test_wrong_oidc_client_secret_is_rejected(cluster: FakeKubernetes) -> None:
    with pytest.raises(VimValidationError, match="invalid_client") as caught:
        driver.validate(cluster.url, oidc_cred(cluster, client_secret="other-secret"), PROJECT)
    assert "other-secret" not in caught.value.message


@pytest.mark.parametrize("ssl_ca_cert", [None, "None", "", "absent"])
def test_without_the_cluster_ca_tls_verification_fails(
    cluster: FakeKubernetes, ssl_ca_cert: str | None
) -> None:
    cred = {"bearer_token": TOKEN, "ssl_ca_cert": ssl_ca_cert}
    if ssl_ca_cert == "absent":
        del cred["ssl_ca_cert"]
    with pytest.raises(VimValidationError) as caught:
        driver.validate(cluster.url, cred, PROJECT)
    assert caught.value.message.startswith(f"TLS handshake with {cluster.url}/api failed")
    assert "certificate verify failed" in caught.value.message


def test_another_ca_does_not_vouch_for_the_cluster(cluster: FakeKubernetes) -> None:
    other_ca = make_tls_identity().ca_pem
    with pytest.raises(VimValidationError, match="certificate verify failed"):
        driver.validate(cluster.url, {"bearer_token": TOKEN, "ssl_ca_cert": other_ca}, PROJECT)


def test_plain_http_cluster_needs_no_ca() -> None:
    with FakeKubernetes(token=TOKEN, namespaces=["default"]) as k8s:
        cred = {"bearer_token": TOKEN, "ssl_ca_cert": "None"}
        assert driver.validate(k8s.url, cred, PROJECT) == {
            "namespaces": ["default"],
            "regions": ["default"],
        }


def test_closed_port_cannot_be_reached() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(VimValidationError) as caught:
        driver.validate(url, {"bearer_token": TOKEN}, PROJECT)
    assert caught.value.message == f"cannot reach {url}/api: Connection refused"


def test_silent_server_times_out() -> None:
    with silent_listener() as url, pytest.raises(VimValidationError) as caught:
        driver.validate(url, {"bearer_token": TOKEN}, PROJECT, timeout=0.3)
    assert caught.value.message == f"cannot reach {url}/api: timed out after 0.3s"


def test_url_without_a_kubernetes_api_is_reported(cluster: FakeKubernetes) -> None:
    cred = {"bearer_token": TOKEN, "ssl_ca_cert": cluster.ca_pem}
    with pytest.raises(VimValidationError, match=r"did not list its API versions.*HTTP 404"):
        driver.validate(cluster.url + "/elsewhere", cred, PROJECT)


def test_normalize_auth_url_keeps_the_url_as_given() -> None:
    assert driver.normalize_auth_url("https://k8s.invalid:6443/") == "https://k8s.invalid:6443/"


def test_check_config_accepts_every_credential_form() -> None:
    url = "https://k8s.invalid:6443"
    driver.check_config(url, {"bearer_token": TOKEN}, PROJECT)
    driver.check_config(url, {"username": USER, "password": PASSWORD}, PROJECT)
    oidc = {
        "oidc_token_url": "https://idp.invalid/token",
        "username": USER,
        "password": PASSWORD,
        "client_id": CLIENT_ID,
    }
    driver.check_config(url, oidc, PROJECT)


def test_check_config_without_any_credential_lists_the_forms() -> None:
    with pytest.raises(InvalidConfig) as caught:
        driver.check_config("https://k8s.invalid:6443", {"ssl_ca_cert": "None"}, PROJECT)
    message = caught.value.message
    assert message.startswith("auth_cred needs one of:")
    assert "bearer_token" in message and "oidc_token_url" in message


@pytest.mark.parametrize(
    ("auth_url", "auth_cred", "vim_project", "field"),
    [
        ("https://k8s.invalid", {"username": USER}, PROJECT, "auth_cred.password"),
        ("https://k8s.invalid", {"password": PASSWORD}, PROJECT, "auth_cred.username"),
        (
            "https://k8s.invalid",
            {"oidc_token_url": "https://idp.invalid/t", "username": USER, "password": PASSWORD},
            PROJECT,
            "auth_cred.client_id",
        ),
        (
            "https://k8s.invalid",
            {"oidc_token_url": "idp.invalid/t", "bearer_token": TOKEN},
            PROJECT,
            "auth_cred.oidc_token_url",
        ),
        (
            "https://k8s.invalid",
            {"bearer_token": TOKEN, "ssl_ca_cert": "not a certificate"},
            PROJECT,
            "auth_cred.ssl_ca_cert",
        ),
        ("https://k8s.invalid", {"bearer_token": 42}, PROJECT, "auth_cred.bearer_token"),
        ("https://k8s.invalid", {"bearer_token": TOKEN}, {}, "vim_project.name"),
        ("https://k8s.invalid", None, PROJECT, "auth_cred"),
        ("", {"bearer_token": TOKEN}, PROJECT, "auth_url"),
        ("file:///etc/kubeconfig", {"bearer_token": TOKEN}, PROJECT, "auth_url"),
    ],
)
def test_check_config_names_the_bad_field(
    auth_url: str, auth_cred: dict, vim_project: dict, field: str
) -> None:
    with pytest.raises(InvalidConfig) as caught:
        driver.check_config(auth_url, auth_cred, vim_project)
    assert caught.value.message.startswith(field + " ")
    assert TOKEN not in caught.value.message and PASSWORD not in caught.value.message


class EchoingCluster(FakeKubernetes):
    """A careless API server (or proxy) that quotes the credential in its error."""

    def handle(self, request: Request) -> Response:
        return k8s_status(401, "Unauthorized", f"bad {request.headers['Authorization']}")


@pytest.mark.parametrize(
    "cred", [{"bearer_token": TOKEN}, {"username": USER, "password": PASSWORD}]
)
def test_a_server_that_echoes_the_credential_cannot_make_it_leak(cred: dict) -> None:
    with EchoingCluster() as k8s, pytest.raises(VimValidationError) as caught:
        url = k8s.url
        driver.validate(url, cred, PROJECT)
    assert caught.value.message == (
        f"Kubernetes at {url} rejected the credentials: {WITHHELD} (HTTP 401)"
    )


@pytest.fixture
def client_ca() -> CertificateAuthority:
    return CertificateAuthority("the cluster's client CA")


@pytest.fixture
def cert_cluster(client_ca: CertificateAuthority) -> Iterator[FakeKubernetes]:
    with FakeKubernetes(namespaces=NAMESPACES, tls=True, client_ca_pem=client_ca.ca_pem) as k8s:
        yield k8s


def certificate_cred(k8s: FakeKubernetes, certificate: ClientCertificate) -> dict:
    return {
        "client_cert": certificate.cert_pem,
        "client_key": certificate.key_pem,
        "ssl_ca_cert": k8s.ca_pem,
    }


def test_a_client_certificate_the_cluster_trusts_returns_the_namespaces(
    cert_cluster: FakeKubernetes, client_ca: CertificateAuthority
) -> None:
    cred = certificate_cred(cert_cluster, client_ca.client_certificate("vimwatch"))
    assert driver.validate(cert_cluster.url, cred, PROJECT)["namespaces"] == NAMESPACES
    assert set(cert_cluster.certificate_users) == {"vimwatch"}


def test_a_client_certificate_the_cluster_does_not_trust_is_refused_in_the_handshake(
    cert_cluster: FakeKubernetes,
) -> None:
    stranger = CertificateAuthority("elsewhere").client_certificate("vimwatch")
    with pytest.raises(VimValidationError, match="TLS handshake .* failed: .*unknown ca"):
        driver.validate(cert_cluster.url, certificate_cred(cert_cluster, stranger), PROJECT)


def test_a_client_key_that_is_not_the_certificates_is_a_config_error(
    client_ca: CertificateAuthority,
) -> None:
    one, other = client_ca.client_certificate("a"), client_ca.client_certificate("b")
    cred = {"client_cert": one.cert_pem, "client_key": other.key_pem}
    with pytest.raises(InvalidConfig, match="client_cert and auth_cred.client_key are not") as e:
        driver.check_config("https://k8s:6443", cred, PROJECT)
    assert "PRIVATE KEY" not in e.value.message


def test_a_client_certificate_needs_its_key_and_stands_alone(
    client_ca: CertificateAuthority,
) -> None:
    certificate = client_ca.client_certificate("vimwatch")
    with pytest.raises(InvalidConfig, match="client_key is required with auth_cred.client_cert"):
        driver.check_config("https://k8s:6443", {"client_cert": certificate.cert_pem}, PROJECT)
    mixed = {"client_cert": certificate.cert_pem, "client_key": certificate.key_pem}
    with pytest.raises(InvalidConfig, match="form of its own; remove auth_cred.bearer_token"):
        driver.check_config("https://k8s:6443", {**mixed, "bearer_token": TOKEN}, PROJECT)
