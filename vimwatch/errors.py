"""Error types a user can act on.

Every layer raises these; the API maps them to HTTP status codes in one place
(`vimwatch.api.errors`) and the CLI prints their message. Each carries the status
it should become so that the mapping cannot drift from the meaning.
"""

from __future__ import annotations


class VimwatchError(Exception):
    """Base of every error that is the caller's to fix or to know about."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(VimwatchError):
    status_code = 400


class InvalidConfig(BadRequest):
    """A VIM config file or body that cannot describe a VIM."""


class VimValidationError(BadRequest):
    """The VIM itself rejected the credentials, or could not be reached to check them."""


class NotAuthenticated(VimwatchError):
    status_code = 401


class Forbidden(VimwatchError):
    status_code = 403


class NotFound(VimwatchError):
    status_code = 404


class Conflict(VimwatchError):
    status_code = 409


class ServiceUnavailable(VimwatchError):
    status_code = 503


class QuotaExceeded(Forbidden):
    """The write would take a project past one of its quotas (vimwatch.registry.quotas)."""
