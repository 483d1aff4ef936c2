"""The outbox on each database: queued with the change, claimed once, backed off, given up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.conductor.test_status_changes import add_vim
from tests.rows import vim_row
from vimwatch.conductor.status_changes import apply_status_change, apply_status_changes
from vimwatch.registry.database import Registry, utcnow
from vimwatch.registry.models import Vim, Webhook, WebhookDelivery
from vimwatch.webhooks import outbox

LEASE = timedelta(seconds=30)


def add_webhook(registry: Registry, webhook_id: str, project: str = "p") -> None:
    with registry.transaction() as session:
        session.add(
            Webhook(
                id=webhook_id,
                project_id=project,
                url=f"http://127.0.0.1:9/{webhook_id}",
                sealed_secret="sealed",
                created_at=utcnow(),
            )
        )


def deliveries(registry: Registry) -> list[WebhookDelivery]:
    with registry.reading() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_change_queues_one_delivery_per_webhook_of_the_vims_project(registry: Registry) -> None:
    add_vim(registry)  # project "p"
    add_webhook(registry, "mine-1")
    add_webhook(registry, "mine-2")
    add_webhook(registry, "theirs", project="q")
    apply_status_change(registry, "v1", "REACHABLE")
    queued = deliveries(registry)
    assert sorted(d.webhook_id for d in queued) == ["mine-1", "mine-2"]
    assert all('"status":"REACHABLE"' in d.body and d.attempts == 0 for d in queued)


def test_a_batch_of_changes_queues_each_for_the_webhooks_of_its_own_project(
    registry: Registry,
) -> None:
    with registry.transaction() as session:
        for vim_id, project in (("p1", "p"), ("p2", "p"), ("q1", "q"), ("r1", "r")):
            session.add(Vim(**vim_row(vim_id, tenant=project)))
    add_webhook(registry, "p-hook")
    add_webhook(registry, "q-hook-1", project="q")
    add_webhook(registry, "q-hook-2", project="q")
    apply_status_changes(
        registry,
        [("p1", "REACHABLE", False), ("q1", "UNREACHABLE", False), ("r1", "REACHABLE", False)]
        + [("p2", "REACHABLE", True)],  # a flapping VIM's quiet change calls no webhook
    )
    queued = {(d.webhook_id, d.body.split('"vim_id":"')[1][:2]) for d in deliveries(registry)}
    assert queued == {("p-hook", "p1"), ("q-hook-1", "q1"), ("q-hook-2", "q1")}


def test_a_repeated_or_refused_change_queues_nothing(registry: Registry) -> None:
    add_vim(registry)
    add_webhook(registry, "w")
    for _ in range(3):
        apply_status_change(registry, "v1", "UNREACHABLE")
    apply_status_change(registry, "gone", "REACHABLE")
    assert len(deliveries(registry)) == 1


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_ends(registry: Registry) -> None:
    add_vim(registry)
    add_webhook(registry, "w")
    apply_status_change(registry, "v1", "REACHABLE")
    now = utcnow()
    with registry.transaction() as session:
        [claimed] = outbox.claim_due(session, now, 10, LEASE)
    with registry.transaction() as session:
        assert outbox.claim_due(session, now + timedelta(seconds=1), 10, LEASE) == []
    with registry.transaction() as session:
        [again] = outbox.claim_due(session, now + LEASE + timedelta(seconds=1), 10, LEASE)
    assert again.delivery_id == claimed.delivery_id


def test_failed_attempts_back_off_exponentially_then_give_up_after_a_day(
    registry: Registry,
) -> None:
    add_vim(registry)
    add_webhook(registry, "w")
    apply_status_change(registry, "v1", "REACHABLE")
    # Whole seconds, as MariaDB's DATETIME keeps them, and after the change was queued.
    now = utcnow().replace(microsecond=0) + timedelta(seconds=1)
    waits = []
    for _ in range(12):
        with registry.transaction() as session:
            [claimed] = outbox.claim_due(session, now, 10, LEASE)
            assert outbox.settle(session, claimed, now, "HTTP 500") == "retry"
        [row] = deliveries(registry)
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert waits[:9] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert waits[9:] == [300, 300, 300]

    later = claimed.created_at + outbox.GIVE_UP_AFTER
    with registry.transaction() as session:
        [claimed] = outbox.claim_due(session, later, 10, LEASE)
        assert outbox.settle(session, claimed, later, "HTTP 500") == "failed"
    [row] = deliveries(registry)
    assert row.failed_at is not None and row.last_error == "HTTP 500"
    with registry.transaction() as session:
        assert outbox.claim_due(session, later + timedelta(days=1), 10, LEASE) == []


def test_a_delivered_delivery_is_never_sent_again(registry: Registry) -> None:
    add_vim(registry)
    add_webhook(registry, "w")
    apply_status_change(registry, "v1", "REACHABLE")
    now = utcnow()
    with registry.transaction() as session:
        [claimed] = outbox.claim_due(session, now, 10, LEASE)
        assert outbox.settle(session, claimed, now, None) == "delivered"
    with registry.transaction() as session:
        assert outbox.claim_due(session, now + timedelta(days=2), 10, LEASE) == []
        assert outbox.pending_count(session) == 0


def test_every_projects_oldest_due_delivery_is_a_candidate_behind_any_backlog(
    registry: Registry,
) -> None:
    with registry.transaction() as session:
        for vim_id, project in (("p1", "p"), ("q1", "q")):
            session.add(Vim(**vim_row(vim_id, tenant=project)))
    for n in range(30):
        add_webhook(registry, f"p-hook-{n}")
    add_webhook(registry, "q-hook", project="q")
    apply_status_changes(registry, [("p1", "REACHABLE", False)])
    apply_status_changes(registry, [("q1", "REACHABLE", False)])
    with registry.reading() as session:
        candidates = outbox.due_candidates(session, utcnow(), limit=5)
    assert [c.project_id for c in candidates] == ["p"] * 5 + ["q"]
    assert candidates[-1].url == "http://127.0.0.1:9/q-hook"
