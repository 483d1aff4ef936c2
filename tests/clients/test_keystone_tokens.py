"""vimwatch's token check (vimwatch.api.keystone) against the real Keystone: what a token
turns into, how long an answer is kept, and what happens when vimwatch cannot check."""

from __future__ import annotations

import pytest

from tests.clients.conftest import SERVICE_PASSWORD
from tests.clients.keystone import Account, Keystone
from vimwatch.api.keystone import KeystoneTokens
from vimwatch.config import Settings
from vimwatch.errors import NotAuthenticated, ServiceUnavailable

pytestmark = pytest.mark.clients


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tokens(keystone: Keystone, clock: Clock, password: str = SERVICE_PASSWORD) -> KeystoneTokens:
    settings = Settings(
        auth="keystone",
        keystone_url=keystone.url,
        keystone_password=password,
        keystone_cache_seconds=30,
    )
    return KeystoneTokens(settings, clock=clock)


@pytest.fixture(scope="module")
def carol(real_keystone: Keystone) -> Account:
    return real_keystone.create_account("carol", "carol-pw", "gamma", "member")


def test_a_token_becomes_its_project_roles_and_user(
    real_keystone: Keystone, carol: Account
) -> None:
    context = tokens(real_keystone, Clock()).context_for(real_keystone.token(carol))

    assert context.project_id == real_keystone.project_id("gamma")
    assert context.roles >= {"member"} and not context.is_admin
    assert context.user_id


def test_the_admin_role_makes_an_admin_context(real_keystone: Keystone) -> None:
    token = real_keystone.token(real_keystone.admin)

    assert tokens(real_keystone, Clock()).context_for(token).is_admin


def test_a_revoked_token_works_only_until_the_cached_answer_expires(
    real_keystone: Keystone, carol: Account
) -> None:
    clock = Clock()
    checker = tokens(real_keystone, clock)
    token = real_keystone.token(carol)
    checker.context_for(token)

    real_keystone.revoke(token)
    clock.now += 29
    assert checker.context_for(token).project_id == real_keystone.project_id("gamma")

    clock.now += 2
    with pytest.raises(NotAuthenticated, match="invalid or has expired"):
        checker.context_for(token)


def test_a_made_up_token_is_not_authenticated(real_keystone: Keystone) -> None:
    with pytest.raises(NotAuthenticated):
        tokens(real_keystone, Clock()).context_for("gAAAAABmade-up-token")


def test_a_wrong_service_password_makes_the_check_unavailable_not_the_caller_wrong(
    real_keystone: Keystone, carol: Account
) -> None:
    checker = tokens(real_keystone, Clock(), password="not-the-service-pw")

    with pytest.raises(ServiceUnavailable, match="cannot log in to Keystone"):
        checker.context_for(real_keystone.token(carol))
