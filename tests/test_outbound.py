"""The outbound policy: where a project may and may not make the server connect."""

from __future__ import annotations

import pytest

from vimwatch.context import RequestContext, admin_context
from vimwatch.errors import Forbidden
from vimwatch.outbound import OutboundPolicy, check_vim_urls

MEMBER = RequestContext(project_id="project-a", roles=frozenset({"member"}))


@pytest.mark.parametrize(
    ("url", "network"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.0/8"),
        ("http://127.9.9.9/", "127.0.0.0/8"),
        ("http://localhost:5000/v3", ""),
        ("https://[::1]:6443/", "::1/128"),
        ("http://[::ffff:127.0.0.1]/", "127.0.0.0/8"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.0.0/16"),
        ("http://[fe80::1%25eth0]/", "fe80::/10"),
        ("http://0.0.0.0:22/", "0.0.0.0/8"),
        ("http://100.100.100.200/", "100.100.100.200/32"),
    ],
)
def test_a_member_cannot_aim_the_server_at_its_own_or_metadata_addresses(
    url: str, network: str
) -> None:
    with pytest.raises(Forbidden) as refused:
        OutboundPolicy().check(url, MEMBER, "the webhook's host")
    assert "outbound policy" in refused.value.message
    assert network in refused.value.message


def test_an_admin_and_ordinary_addresses_pass() -> None:
    OutboundPolicy().check("http://127.0.0.1:8080/hook", admin_context(), "the webhook's host")
    OutboundPolicy().check("http://192.0.2.10/hook", MEMBER, "the webhook's host")
    OutboundPolicy().check("http://no-such-host.invalid/hook", MEMBER, "the webhook's host")


def test_an_empty_deny_list_turns_the_policy_off_and_a_custom_one_applies() -> None:
    OutboundPolicy(()).check("http://127.0.0.1/", MEMBER, "the webhook's host")
    with pytest.raises(Forbidden):
        OutboundPolicy(["10.0.0.0/8"]).check("http://10.1.2.3/", MEMBER, "the webhook's host")


def test_a_vims_oidc_provider_is_checked_as_well_as_its_auth_url() -> None:
    cred = {"oidc_token_url": "http://169.254.169.254/token"}
    with pytest.raises(Forbidden, match="OIDC token URL"):
        check_vim_urls(OutboundPolicy(), "https://192.0.2.10:6443", cred, MEMBER)
