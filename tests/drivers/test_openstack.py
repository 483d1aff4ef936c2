from collections.abc import Iterator

import pytest

from tests.fakes import Request, Response, closed_port, silent_listener
from tests.fakes.keystone import FakeKeystone, keystone_error
from vimwatch.drivers.base import WITHHELD
from vimwatch.drivers.openstack import OpenStackDriver, cert_verify
from vimwatch.errors import InvalidConfig, VimValidationError

USER = "nfv_user"
PASSWORD = "s3cret-Pa55word"
PROJECT = {"name": "nfv", "project_domain_name": "Default"}

driver = OpenStackDriver()


def cred(**changes: object) -> dict:
    base = {
        "username": USER,
        "password": PASSWORD,
        "user_domain_name": "Default",
        "cert_verify": "True",
    }
    return {**base, **changes}


@pytest.fixture
def keystone() -> Iterator[FakeKeystone]:
    with FakeKeystone(
        users={USER: PASSWORD}, regions=["RegionOne", "RegionTwo"], projects=["nfv"]
    ) as ks:
        yield ks


@pytest.fixture
def tls_keystone() -> Iterator[FakeKeystone]:
    with FakeKeystone(users={USER: PASSWORD}, tls=True) as ks:
        yield ks


def test_right_credentials_return_the_regions(keystone: FakeKeystone) -> None:
    assert driver.validate(keystone.url, cred(), PROJECT) == {"regions": ["RegionOne", "RegionTwo"]}


@pytest.mark.parametrize("suffix", ["", "/", "/v3", "/v3/"])
def test_auth_url_is_accepted_with_or_without_v3(keystone: FakeKeystone, suffix: str) -> None:
    assert driver.validate(keystone.url + suffix, cred(), PROJECT)["regions"]


def test_version_is_probed_without_a_token_then_regions_with_one(keystone: FakeKeystone) -> None:
    driver.validate(keystone.url, cred(), PROJECT)

    probe, login, regions = keystone.requests
    assert (probe.method, probe.path) == ("GET", "/identity/v3")
    assert "X-Auth-Token" not in probe.headers
    assert (login.method, login.path) == ("POST", "/identity/v3/auth/tokens")
    assert (regions.method, regions.path) == ("GET", "/identity/v3/regions")
    assert regions.headers["X-Auth-Token"] in keystone.tokens


def test_wrong_password_is_rejected_without_echoing_it(keystone: FakeKeystone) -> None:
    wrong = "not-the-Pa55word"
    with pytest.raises(VimValidationError) as caught:
        driver.validate(keystone.url, cred(password=wrong), PROJECT)

    message = caught.value.message
    assert f"Keystone at {keystone.v3_url} rejected the credentials" in message
    assert "HTTP 401" in message
    assert wrong not in message and PASSWORD not in message
    assert caught.value.status_code == 400


def test_unknown_project_is_rejected(keystone: FakeKeystone) -> None:
    with pytest.raises(VimValidationError, match="rejected the credentials"):
        driver.validate(keystone.url, cred(), {"name": "elsewhere"})


def test_project_id_is_used_for_scoping_when_given(keystone: FakeKeystone) -> None:
    project = {"name": "ignored-when-id-is-set", "id": "p-nfv"}
    assert driver.validate(keystone.url, cred(), project)["regions"]


def test_empty_domains_from_the_tacker_client_mean_the_default_domain(
    keystone: FakeKeystone,
) -> None:
    project = {"name": "nfv", "project_domain_name": ""}
    assert driver.validate(keystone.url, cred(user_domain_name=""), project)["regions"]


def test_closed_port_cannot_be_reached() -> None:
    url = f"http://127.0.0.1:{closed_port()}/identity"
    with pytest.raises(VimValidationError) as caught:
        driver.validate(url, cred(), PROJECT)
    assert caught.value.message == f"cannot reach {url}/v3: Connection refused"


def test_silent_server_times_out() -> None:
    with silent_listener() as url, pytest.raises(VimValidationError) as caught:
        driver.validate(url, cred(), PROJECT, timeout=0.3)
    assert caught.value.message == f"cannot reach {url}/v3: timed out after 0.3s"


def test_url_without_keystone_is_reported(keystone: FakeKeystone) -> None:
    with pytest.raises(VimValidationError, match=r"did not answer the version request.*HTTP 404"):
        driver.validate(keystone.base_url + "/nowhere", cred(), PROJECT)


def test_untrusted_certificate_fails_verification(tls_keystone: FakeKeystone) -> None:
    with pytest.raises(VimValidationError) as caught:
        driver.validate(tls_keystone.url, cred(cert_verify="True"), PROJECT)
    assert caught.value.message.startswith(f"TLS handshake with {tls_keystone.v3_url} failed")
    assert "certificate verify failed" in caught.value.message


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_cert_verify_false_accepts_an_untrusted_certificate(tls_keystone: FakeKeystone) -> None:
    assert driver.validate(tls_keystone.url, cred(cert_verify="False"), PROJECT) == {
        "regions": ["RegionOne"]
    }


@pytest.mark.parametrize(
    ("auth_url", "expected"),
    [
        ("http://keystone.invalid/identity", "http://keystone.invalid/identity/v3"),
        ("http://keystone.invalid/identity/", "http://keystone.invalid/identity/v3"),
        ("http://keystone.invalid:5000", "http://keystone.invalid:5000/v3"),
        ("http://keystone.invalid:5000/v3", "http://keystone.invalid:5000/v3"),
        ("https://keystone.invalid:5000/v3/", "https://keystone.invalid:5000/v3/"),
        ("http://keystone.invalid/identity/v2.0", "http://keystone.invalid/identity/v2.0/v3"),
    ],
)
def test_normalize_auth_url_appends_v3_only_when_missing(auth_url: str, expected: str) -> None:
    assert driver.normalize_auth_url(auth_url) == expected
    assert driver.normalize_auth_url(expected) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("True", True), ("False", False), ("false", False), (False, False), (True, True)],
)
def test_cert_verify_reads_tacker_strings_and_booleans(raw: object, expected: bool) -> None:
    assert cert_verify({"cert_verify": raw}) is expected


def test_cert_verify_defaults_to_verifying() -> None:
    assert cert_verify({}) is True


def test_check_config_accepts_a_tacker_client_body() -> None:
    driver.check_config("http://keystone.invalid/identity", cred(), PROJECT)


@pytest.mark.parametrize(
    ("auth_url", "auth_cred", "vim_project", "field"),
    [
        ("http://keystone.invalid/identity", cred(username=None), PROJECT, "auth_cred.username"),
        ("http://keystone.invalid/identity", cred(password=""), PROJECT, "auth_cred.password"),
        ("http://keystone.invalid/identity", cred(password=1234), PROJECT, "auth_cred.password"),
        (
            "http://keystone.invalid/identity",
            cred(),
            {"project_domain_name": "x"},
            "vim_project.name",
        ),
        ("http://keystone.invalid/identity", cred(), {"name": ""}, "vim_project.name"),
        (
            "http://keystone.invalid/identity",
            cred(cert_verify="yes"),
            PROJECT,
            "auth_cred.cert_verify",
        ),
        ("http://keystone.invalid/identity", "not-a-dict", PROJECT, "auth_cred"),
        ("http://keystone.invalid/identity", cred(), None, "vim_project"),
        ("", cred(), PROJECT, "auth_url"),
        (None, cred(), PROJECT, "auth_url"),
        ("ftp://keystone.invalid/identity", cred(), PROJECT, "auth_url"),
        ("keystone.invalid:5000/v3", cred(), PROJECT, "auth_url"),
        ("http:///v3", cred(), PROJECT, "auth_url"),
    ],
)
def test_check_config_names_the_bad_field(
    auth_url: str, auth_cred: dict, vim_project: dict, field: str
) -> None:
    with pytest.raises(InvalidConfig) as caught:
        driver.check_config(auth_url, auth_cred, vim_project)
    assert caught.value.message.startswith(field + " ")


def test_check_config_errors_do_not_echo_the_url() -> None:
    with pytest.raises(InvalidConfig) as caught:
        driver.check_config("ftp://admin:hunter2@keystone.invalid/", cred(), PROJECT)
    assert "hunter2" not in caught.value.message
    assert "'ftp'" in caught.value.message


def test_validate_rejects_a_bad_config_before_any_network_call() -> None:
    with pytest.raises(InvalidConfig, match="auth_cred.password"):
        driver.validate(f"http://127.0.0.1:{closed_port()}", cred(password=None), PROJECT)


class EchoingKeystone(FakeKeystone):
    """A careless Keystone (or proxy) that quotes the submitted password in its error."""

    def handle(self, request: Request) -> Response:
        if request.method == "POST":
            password = request.json()["auth"]["identity"]["password"]["user"]["password"]
            return keystone_error(401, f"password {password} is wrong")
        return super().handle(request)


def test_a_keystone_that_echoes_the_password_cannot_make_it_leak() -> None:
    with EchoingKeystone() as ks, pytest.raises(VimValidationError) as caught:
        v3_url = ks.v3_url
        driver.validate(ks.url, cred(), PROJECT)
    assert caught.value.message == f"Keystone at {v3_url} rejected the credentials: {WITHHELD}"
    assert PASSWORD not in caught.value.message


SHORT_OR_COMMON = ["h", "t", "ht", "tt", "htt", "1", "http", "reach", "the", "Connection"]


@pytest.mark.parametrize("password", SHORT_OR_COMMON)
def test_a_short_or_common_password_leaves_the_message_intact(password: str) -> None:
    """The message is built from the URL and the reason; nothing in it is searched for
    the password, so "cannot reach http://..." never becomes "cannot reach htt***://..."."""
    url = f"http://127.0.0.1:{closed_port()}/identity"
    with pytest.raises(VimValidationError) as caught:
        driver.validate(url, cred(password=password), PROJECT)
    assert caught.value.message == f"cannot reach {url}/v3: Connection refused"


@pytest.mark.parametrize("password", ["a", "ab", "abc", "the", "reach"])
def test_a_short_password_quoted_by_keystone_is_withheld_not_masked(password: str) -> None:
    """A reply that quotes the password is withheld whole: masking the word in place would
    show where the secret stood and how long it is."""
    with EchoingKeystone(users={USER: password}) as ks, pytest.raises(VimValidationError) as caught:
        v3_url = ks.v3_url
        driver.validate(ks.url, cred(password=password), PROJECT)
    assert caught.value.message == f"Keystone at {v3_url} rejected the credentials: {WITHHELD}"


def test_credentials_in_the_auth_url_are_not_shown() -> None:
    port = closed_port()
    with pytest.raises(VimValidationError) as caught:
        driver.validate(f"http://admin:hunter2@127.0.0.1:{port}/identity", cred(), PROJECT)
    assert (
        caught.value.message
        == f"cannot reach http://127.0.0.1:{port}/identity/v3: Connection refused"
    )
