"""Telling whether a text someone else wrote quotes a secret, without garbling it.

Messages are built from parts known to be safe; only a library's or a remote service's
words can carry a secret (a server that echoes the password it was sent). Such words are
shown whole or withheld whole: masking the secret in place would show where it stood and
how long it is, and for a short secret ("a", "the") would garble ordinary text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Shown instead of a library's or remote service's words when they quote a credential.
WITHHELD = "(the error text is not shown: it quoted a credential)"
#: Secrets at least this long are looked for anywhere in a reply; shorter ones only as a
#: whole word, since "a" or "the" occur inside ordinary text and matching there would both
#: garble the message and tell which letters the secret holds.
_ANYWHERE_LENGTH = 8


def quotes_secret(text: str, secrets: Iterable[str | None]) -> bool:
    """Whether `text` holds one of `secrets`: anywhere for long secrets, as a whole word
    (not inside a longer run of letters and digits) for short ones."""
    for secret in secrets:
        if not secret:
            continue
        if len(secret) >= _ANYWHERE_LENGTH:
            if secret in text:
                return True
        elif re.search(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", text):
            return True
    return False
