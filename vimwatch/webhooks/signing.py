"""The signature receivers check: HMAC-SHA256 of the exact body bytes, with the secret.

Header format: `X-Vimwatch-Signature: sha256=<64 lowercase hex digits>`, the same shape
GitHub uses, so receivers can reuse their verification code.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Vimwatch-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver does; constant-time, so the comparison leaks nothing."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)
