"""A secret is found in someone else's words only where it really stands as itself."""

import pytest

from vimwatch.secrets.quoting import quotes_secret


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("cannot reach https://idp.example/token", "htt"),
        ("The server is unreachable", "reach"),
        ("Authentication failed", "a"),
        ("theme not found", "the"),
        ("x", None),
        ("x", ""),
    ],
)
def test_a_short_secret_inside_a_longer_word_is_no_quote(text: str, secret: str | None) -> None:
    assert not quotes_secret(text, [secret])


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("password a is wrong", "a"),
        ("user 'pw' refused", "pw"),
        ("the", "the"),
        ("ACCESS_REFUSED - Login was refused using PLAIN for s3cret-Pa55", "s3cret-Pa55"),
        ("token=xs3cret-Pa55wordx", "s3cret-Pa55word"),
    ],
)
def test_a_secret_standing_as_itself_or_a_long_one_anywhere_is_a_quote(
    text: str, secret: str
) -> None:
    assert quotes_secret(text, ["", secret])
