"""Tables of the registry.

Uniqueness rules live in the schema, not in application checks, so that two concurrent
requests cannot both win: `tombstone` is '' while a VIM is live and its own id once deleted
(names are unique among live VIMs of a project), and `default_flag` is True for the
project's default VIM and NULL otherwise (NULLs never collide in a unique constraint, on
SQLite, PostgreSQL and MariaDB alike).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Vim(Base):
    __tablename__ = "vims"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", "tombstone", name="uq_vims_live_name"),
        UniqueConstraint("tenant_id", "default_flag", name="uq_vims_one_default"),
        Index("ix_vims_live_created", "deleted_at", "created_at", "id"),
        Index("ix_vims_live_status", "deleted_at", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32), index=True)
    auth_url: Mapped[str] = mapped_column(String(255))
    vim_project: Mapped[dict[str, Any]] = mapped_column(JSON)
    auth_cred: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed_secrets: Mapped[str] = mapped_column(Text, default="")
    placement_attr: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    default_flag: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    tombstone: Mapped[str] = mapped_column(String(36), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class VimCheck(Base):
    """The last result of one check of a VIM that carries several (extra.monitor.checks),
    written by the engine running it (vimwatch.registry.checks) for the VIM's view."""

    __tablename__ = "vim_checks"

    vim_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    latency: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_success: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_failure: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class VimStatusCount(Base):
    """How many live VIMs a project has in a status, kept by triggers on `vims` (migration
    0006) so that counts are read without walking the VIMs. Counters at 0 may remain."""

    __tablename__ = "vim_status_counts"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class Event(Base):
    __tablename__ = "events"
    # A VIM's history in time order (availability) and the oldest events (retention).
    __table_args__ = (
        Index("ix_events_resource_time", "resource_id", "timestamp"),
        Index("ix_events_timestamp", "timestamp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_id: Mapped[str] = mapped_column(String(36), index=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_state: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(DateTime)
    event_details: Mapped[str] = mapped_column(Text, default="")
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)


class Workflow(Base):
    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    vim_id: Mapped[str] = mapped_column(String(36), index=True)
    definition: Mapped[str] = mapped_column(Text)
    project_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_engine_state", "engine_id", "state"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(36), index=True)
    workflow_name: Mapped[str] = mapped_column(String(255), index=True)
    vim_id: Mapped[str] = mapped_column(String(36), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    state_info: Mapped[str | None] = mapped_column(Text, nullable=True)
    input: Mapped[str] = mapped_column(Text, default="{}")
    project_id: Mapped[str] = mapped_column(String(64))
    engine_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    execution_id: Mapped[str] = mapped_column(String(36), index=True)
    workflow_id: Mapped[str] = mapped_column(String(36))
    workflow_name: Mapped[str] = mapped_column(String(255), index=True)
    vim_id: Mapped[str] = mapped_column(String(36), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    state_info: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class EngineMember(Base):
    """An engine process that is alive if its heartbeat is fresh; used to share out VIMs."""

    __tablename__ = "engines"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)


class Webhook(Base):
    """A project's subscription to status changes; its signing secret is stored sealed."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    sealed_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookDelivery(Base):
    """The outbox: one row per (webhook, status change), written with the change itself.

    A row is pending until `delivered_at` or `failed_at` is set. `claimed_until` is the
    lease of the worker sending it, so that several api processes never send it at once
    and a worker that died mid-send leaves it to the next one.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(36), index=True)
    event_id: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """An API token of `VIMWATCH_AUTH=token`; only its SHA-256 is kept, never the token."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Quota(Base):
    """A project's own quota, set by an admin; NULL means the configured default
    (vimwatch.registry.quotas). The row is also what writers lock to count a project's
    resources one at a time, so a project gets one as soon as it first stores something."""

    __tablename__ = "quotas"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vims: Mapped[int | None] = mapped_column(Integer, nullable=True)
    webhooks: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)


class MaintenanceWindow(Base):
    """Planned maintenance of some VIMs (`scope` "vims": `vim_ids`), of a project's
    ("project": `target_project`) or of every VIM ("all"): their status changes still
    count as events but call no webhook, fire no alert and leave availability alone. A
    weekly window repeats every seven days from its first occurrence. Deleting one sets
    `deleted_at`, so that what it excluded before stays excluded and reports do not
    change after the fact."""

    __tablename__ = "maintenance_windows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    vim_ids: Mapped[list[str]] = mapped_column(JSON)
    target_project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    ends_at: Mapped[datetime] = mapped_column(DateTime)
    weekly: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)


class AvailabilityDay(Base):
    """One VIM's availability over one closed UTC day, in microseconds (exact on every
    database), written by the roll-up job (vimwatch.registry.rollups) from the events and
    maintenance windows of that day, which never change once it is over. A VIM that did
    not exist that day has no row."""

    __tablename__ = "availability_days"

    vim_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[datetime] = mapped_column(DateTime, primary_key=True, index=True)
    up_us: Mapped[int] = mapped_column(BigInteger)
    down_us: Mapped[int] = mapped_column(BigInteger)
    pending_us: Mapped[int] = mapped_column(BigInteger)
    maintenance_us: Mapped[int] = mapped_column(BigInteger)
    outages: Mapped[int] = mapped_column(Integer)
    longest_outage_us: Mapped[int] = mapped_column(BigInteger)
    leading_down_us: Mapped[int] = mapped_column(BigInteger)
    trailing_down_us: Mapped[int] = mapped_column(BigInteger)
    wholly_down: Mapped[bool] = mapped_column(Boolean)


class RolledDay(Base):
    """A UTC day whose roll-ups are written for every VIM that existed in it: reports
    read such a day from `availability_days`, any other from the events."""

    __tablename__ = "rolled_days"

    day: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    rolled_at: Mapped[datetime] = mapped_column(DateTime)
