"""Engines share the running executions through leases: never two owners, none left behind."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from vimwatch.contract import SUCCESS
from vimwatch.registry import leases
from vimwatch.registry import workflows as records
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Execution, Vim

TTL = 5.0


def add_monitored_vims(registry: Registry, count: int) -> list[str]:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(count)]
    with registry.transaction() as session:
        for vim_id in ids:
            session.add(
                Vim(
                    id=vim_id,
                    type="openstack",
                    tenant_id="p",
                    name=vim_id,
                    description="",
                    status="PENDING",
                    auth_url="http://127.0.0.1/v3",
                    vim_project={},
                    auth_cred={},
                    sealed_secrets="",
                    extra={},
                    is_default=False,
                    tombstone="",
                    created_at=utcnow(),
                )
            )
            records.start_execution(
                session, vim_id=vim_id, project_id="p", definition="", task_input={"vim_id": vim_id}
            )
    return ids


def balance(registry: Registry, engine_id: str, now=None) -> set[str]:  # noqa: ANN001
    with registry.transaction() as session:
        held, _ = leases.balance(session, engine_id, now or utcnow(), TTL)
        return set(held)


def test_a_single_engine_takes_every_running_execution(registry: Registry) -> None:
    ids = add_monitored_vims(registry, 6)
    assert balance(registry, "e1") == set(ids)


def test_a_second_engine_gets_half_within_two_rounds(registry: Registry) -> None:
    ids = add_monitored_vims(registry, 10)
    balance(registry, "e1")
    assert balance(registry, "e2") == set()
    first = balance(registry, "e1")
    second = balance(registry, "e2")
    assert len(first) == len(second) == 5
    assert first | second == set(ids) and not first & second


def test_the_vims_of_a_dead_engine_are_claimed_once_its_leases_expire(registry) -> None:
    ids = add_monitored_vims(registry, 4)
    balance(registry, "e1")
    balance(registry, "e2")
    balance(registry, "e1")
    assert len(balance(registry, "e2")) == 2
    # e1 is killed: it stops renewing. Before its leases expire nothing moves...
    assert len(balance(registry, "e2", utcnow() + timedelta(seconds=TTL / 2))) == 2
    # ...after, e2 is the only live engine and takes everything.
    assert balance(registry, "e2", utcnow() + timedelta(seconds=TTL + 1)) == set(ids)


def test_a_clean_stop_hands_leases_back_at_once(registry: Registry) -> None:
    ids = add_monitored_vims(registry, 3)
    balance(registry, "e1")
    with registry.transaction() as session:
        leases.leave(session, "e1")
    assert balance(registry, "e2") == set(ids)


def test_deleted_vims_and_finished_executions_are_not_claimed(registry: Registry) -> None:
    deleted, finished, live = add_monitored_vims(registry, 3)
    with registry.transaction() as session:
        session.get(Vim, deleted).deleted_at = utcnow()
        (execution_id,) = records.running_execution_ids(session, finished)
        records.finish_execution(session, execution_id, SUCCESS)
    assert balance(registry, "e1") == {live}


def test_concurrent_claims_never_give_one_execution_two_owners(registry: Registry) -> None:
    add_monitored_vims(registry, 40)
    claimed: dict[str, int] = {}
    barrier = threading.Barrier(4)

    def claim(engine_id: str) -> None:
        barrier.wait()
        with registry.transaction() as session:
            claimed[engine_id] = leases.claim(session, engine_id, utcnow(), TTL, 40)

    threads = [threading.Thread(target=claim, args=(f"e{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(claimed.values()) == 40
    with registry.reading() as session:
        owners = session.scalar(select(func.count()).where(Execution.engine_id.is_not(None)))
    assert owners == 40
