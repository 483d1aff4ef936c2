"""Rate limits per caller, and per address for refused authentications (vimwatch.api.rate_limit)."""

from __future__ import annotations

import secrets

import httpx
import pytest

from vimwatch.api.rate_limit import REFUSED_BURST, REFUSED_RATE, RateLimits
from vimwatch.config import Settings


@pytest.fixture
def tenant_settings() -> dict[str, str]:
    """The `tenants` server with the default rate limit (the suite's servers run without)."""
    return {"VIMWATCH_RATE_LIMIT": "50"}


def limits() -> RateLimits:
    return RateLimits(Settings(auth="token", rate_limit=50.0, rate_burst=200))


def test_an_address_that_spent_its_refusals_waits_until_it_may_be_refused_again() -> None:
    rates = limits()
    for _ in range(int(REFUSED_BURST)):
        assert rates.wait("token:made-up", "10.0.0.1", now=0.0) == 0
        rates.note_refused("10.0.0.1", now=0.0)
    assert rates.wait("token:another-made-up", "10.0.0.1", now=0.0) == pytest.approx(
        1 / REFUSED_RATE
    )
    assert rates.wait("token:another-made-up", "10.0.0.1", now=1 / REFUSED_RATE) == 0


def test_a_spent_address_holds_neither_a_good_token_behind_it_nor_another_address() -> None:
    rates = limits()
    rates.note_authenticated("token:good")
    for _ in range(int(REFUSED_BURST) + 5):
        rates.note_refused("10.0.0.1", now=0.0)
    assert rates.wait("token:good", "10.0.0.1", now=0.0) == 0
    assert rates.wait("token:made-up", "10.0.0.2", now=0.0) == 0
    assert rates.wait("token:made-up", "10.0.0.1", now=0.0) > 0


def test_a_flood_of_made_up_tokens_gets_429_while_good_tokens_from_the_same_address_pass(
    tenants,  # noqa: ANN001
) -> None:
    server, callers, _ = tenants
    a = callers["a"]
    assert a("GET", "/v1.0/vims").status_code == 200  # a token known before the flood
    with httpx.Client(base_url=server.url, timeout=30) as flood:

        def made_up() -> httpx.Response:
            return flood.get("/v1.0/vims", headers={"X-Auth-Token": secrets.token_hex(16)})

        # Sequential, so on a slow machine the allowance refills a little as it is spent.
        statuses: list[int] = []
        while len(statuses) < 200 and 429 not in statuses:
            refused = made_up()
            statuses.append(refused.status_code)
        assert statuses[: int(REFUSED_BURST)] == [401] * int(REFUSED_BURST)
        assert refused.status_code == 429, "200 made-up tokens were all looked up"
        assert int(refused.headers["Retry-After"]) >= 1
        assert "refused authentications" in refused.json()["TackerError"]["message"]
        assert a("GET", "/v1.0/vims").status_code == 200
        assert flood.get("/healthz").status_code == 200
        # The allowance refills: the address is answered (and refused) again after a wait.
        server.wait_for(lambda: made_up().status_code == 401, timeout=30, interval=1)
