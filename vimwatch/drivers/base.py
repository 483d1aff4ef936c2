"""The contract every VIM driver meets, and the checks they all share.

A driver is the only code that knows what a VIM type's credentials look like and how to
prove them, so the API can treat OpenStack clouds and Kubernetes clusters alike.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from vimwatch.errors import InvalidConfig
from vimwatch.secrets.quoting import WITHHELD, quotes_secret

# Tacker stores absent optional values as the string "None", so they must read as unset.
UNSET_VALUES = (None, "", "None")


@runtime_checkable
class Driver(Protocol):
    vim_type: str

    def normalize_auth_url(self, auth_url: str) -> str:
        """Return the auth_url in the form that is stored and shown back."""
        ...

    def check_config(self, auth_url: str, auth_cred: dict, vim_project: dict) -> None:
        """Reject a malformed VIM without touching the network (raises InvalidConfig)."""
        ...

    def validate(
        self, auth_url: str, auth_cred: dict, vim_project: dict, timeout: float = 10.0
    ) -> dict:
        """Prove the credentials against the VIM and return its placement_attr.

        Raises VimValidationError with a reason a user can act on; the message never
        contains a password, token or secret.
        """
        ...


def check_http_url(value: Any, field: str) -> None:
    """Accept only absolute http(s) URLs.

    The error names the field and scheme but never echoes the URL, which may carry
    credentials in its userinfo.
    """
    if not isinstance(value, str) or not value:
        raise InvalidConfig(f"{field} is required and must be a string")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsed only to refuse a port that is not a number
    except ValueError:
        raise InvalidConfig(f"{field} is not a well-formed URL") from None
    if parts.scheme not in ("http", "https"):
        shown = f"'{parts.scheme}'" if parts.scheme else "none"
        raise InvalidConfig(f"{field} must be an http or https URL (scheme: {shown})")
    if not parts.hostname:
        raise InvalidConfig(f"{field} must name a host")


def require_str(mapping: Mapping[str, Any], key: str, where: str) -> str:
    """Return mapping[key], insisting on a non-empty string; never echoes the value."""
    value = mapping.get(key)
    if value is None or value == "":
        raise InvalidConfig(f"{where}.{key} is required")
    if not isinstance(value, str):
        raise InvalidConfig(f"{where}.{key} must be a string")
    return value


def optional_str(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    """Return mapping[key] as a string, or None when it is absent or one of UNSET_VALUES."""
    if mapping.get(key) in UNSET_VALUES:
        return None
    return require_str(mapping, key, where)


def require_mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidConfig(f"{field} must be an object")
    return value


def relayed(value: object, secrets: Iterable[str | None]) -> str:
    """A remote service's or library's words, fit to show (see remote_text), or WITHHELD
    when they quote a credential. Messages are built from what vimwatch knows is safe (the
    URL, the step, the status code) plus this, so nothing is ever searched and replaced
    inside vimwatch's own text."""
    text = str(value)
    return WITHHELD if quotes_secret(text, list(secrets)) else remote_text(text)


def shown_url(url: str) -> str:
    """The URL as messages name it: without any user:password@ part it may carry."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(the given URL)"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


REMOTE_TEXT_LIMIT = 200


def remote_text(value: object, limit: int = REMOTE_TEXT_LIMIT) -> str:
    """What a remote service said, fit to show a caller: one line of printable text, cut
    at `limit` characters. An internal service's error page must not be relayed whole to
    whoever pointed the server at it, nor break a log line or a terminal."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def root_cause(exc: BaseException) -> BaseException:
    """Follow the chain of wrapped exceptions down to the one that started it."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def describe(exc: BaseException) -> str:
    """A short reason for a transport failure, without the wrapper layers' boilerplate.

    HTTP libraries wrap a socket error three or four times; the innermost error
    ("Connection refused", "certificate verify failed: ...") is what the user can act on.
    """
    cause = root_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {cause.verify_message}"
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause) or str(exc) or type(cause).__name__


def is_tls_failure(exc: BaseException) -> bool:
    return isinstance(root_cause(exc), ssl.SSLError)
