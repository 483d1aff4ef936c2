"""API tokens: created and revoked on the database directly, checked by hash.

A token carries 256 random bits, so a plain SHA-256 is enough to make a stolen database
useless for logging in, and lets each request find its token with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from vimwatch.errors import NotFound
from vimwatch.registry.database import utcnow
from vimwatch.registry.models import ApiToken

PREFIX = "vw_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, project_id: str, *, admin: bool) -> tuple[ApiToken, str]:
    """Store a new token's hash; the token itself is returned once and never again."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id=str(uuid.uuid4()),
        token_hash=digest(token),
        project_id=project_id,
        is_admin=admin,
        created_at=utcnow(),
    )
    session.add(row)
    return row, token


def revoke_token(session: Session, token_id: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def find_live_token(session: Session, token: str) -> ApiToken | None:
    return session.scalars(
        select(ApiToken).where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
    ).first()


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))
