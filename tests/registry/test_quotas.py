"""Quotas in the registry, on every database: the migration, the defaults and overrides,
and concurrent writers of one project never passing its quota together."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from sqlalchemy import insert, inspect

from tests.rows import vim_row
from vimwatch.config import Settings
from vimwatch.errors import QuotaExceeded
from vimwatch.registry import quotas
from vimwatch.registry.database import Registry, _alembic_config, migrate, schema_is_current
from vimwatch.registry.models import Vim
from vimwatch.registry.tokens import create_token, revoke_token

SETTINGS = Settings(quota_vims=5, quota_webhooks=1, quota_tokens=2)


def test_the_quota_migration_goes_down_and_up_again(registry: Registry) -> None:
    with registry.transaction() as session:
        quotas.set_quota(session, "p", {"vims": 7})
    config = _alembic_config()
    with registry.db_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    assert "quotas" not in inspect(registry.db_engine).get_table_names()
    migrate(registry.db_engine)
    assert schema_is_current(registry.db_engine)
    with registry.reading() as session:
        assert quotas.limits(session, "p", SETTINGS)["vims"] == 5


def test_a_project_has_the_defaults_until_an_admin_sets_its_own(registry: Registry) -> None:
    with registry.transaction() as session:
        assert quotas.limits(session, "p", SETTINGS) == {"vims": 5, "webhooks": 1, "tokens": 2}
        quotas.set_quota(session, "p", {"vims": 9, "tokens": 0})
    with registry.transaction() as session:
        assert quotas.limits(session, "p", SETTINGS) == {"vims": 9, "webhooks": 1, "tokens": 0}
        assert quotas.limits(session, "q", SETTINGS)["vims"] == 5
        quotas.set_quota(session, "p", {"vims": None})
    with registry.reading() as session:
        assert quotas.limits(session, "p", SETTINGS)["vims"] == 5


def test_live_vims_and_tokens_count_and_deleted_or_revoked_ones_do_not(
    registry: Registry,
) -> None:
    with registry.transaction() as session:
        session.execute(insert(Vim.__table__), [vim_row(f"v{n}") for n in range(3)])
        [first, _] = [create_token(session, "p", admin=False)[0] for _ in range(2)]
    with registry.transaction() as session:
        session.get(Vim, "v0").deleted_at = session.get(Vim, "v0").created_at
        revoke_token(session, first.id)
    with registry.reading() as session:
        assert quotas.usage(session, "p") == {"vims": 2, "webhooks": 0, "tokens": 1}


def test_a_write_past_the_quota_is_refused_and_names_it(registry: Registry) -> None:
    with pytest.raises(QuotaExceeded) as refused, registry.transaction() as session:
        quotas.reserve(session, SETTINGS, "p", "vims", 6)
    assert "at most 5 VIMs" in refused.value.message
    assert "vimwatch quota set p --vims N" in refused.value.message


def test_concurrent_writers_of_one_project_never_pass_its_quota_together(
    registry: Registry,
) -> None:
    """Twelve writers of a project none of them has written to before, all released at
    once: exactly the quota's five get in, on every database, and none deadlocks."""
    start = threading.Barrier(12)

    def register(n: int) -> bool:
        start.wait(timeout=60)
        try:
            with registry.transaction() as session:
                quotas.reserve(session, SETTINGS, "p", "vims", 1)
                session.execute(insert(Vim.__table__), [vim_row(f"v{n}")])
        except QuotaExceeded:
            return False
        return True

    with ThreadPoolExecutor(12) as pool:
        stored = list(pool.map(register, range(12)))
    assert stored.count(True) == 5
    with registry.reading() as session:
        assert quotas.usage(session, "p")["vims"] == 5
