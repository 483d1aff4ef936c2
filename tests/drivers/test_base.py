"""How drivers show what a remote service said without ever showing a credential."""

import pytest

from vimwatch.drivers.base import WITHHELD, relayed, shown_url

REPLY = "The request you have made requires authentication. (HTTP 401)"


@pytest.mark.parametrize(
    ("secret", "text"),
    [
        ("h", "Authentication failed (HTTP 401)"),
        ("ht", "Unauthorized: check the https settings"),
        ("htt", "see https://idp.example/help"),
        ("a", "Unauthorized (HTTP 401)"),
        ("the", "Authentication method not supported by theme"),
        ("reach", "Service unreachable"),
    ],
)
def test_a_short_secret_inside_a_longer_word_is_not_a_quote(secret: str, text: str) -> None:
    assert relayed(text, [secret]) == text


@pytest.mark.parametrize("secret", ["a", "pw", "the", "reach"])
def test_a_short_secret_standing_as_a_word_is_a_quote(secret: str) -> None:
    assert relayed(f"password {secret} is wrong", [secret]) == WITHHELD


def test_a_long_secret_is_found_even_inside_other_text() -> None:
    assert relayed("Basic dXNlcjpzM2NyZXQtUGE1NXdvcmQ=xyz", ["dXNlcjpzM2NyZXQtUGE1NXdvcmQ="]) == (
        WITHHELD
    )


def test_a_reply_without_secrets_is_relayed_on_one_line() -> None:
    assert relayed(REPLY + "\n trace", ["s3cret-Pa55word", None, ""]) == REPLY + " trace"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@host:5000/identity", "http://host:5000/identity"),
        ("https://host/v3", "https://host/v3"),
    ],
)
def test_urls_are_shown_without_their_userinfo(url: str, shown: str) -> None:
    assert shown_url(url) == shown
