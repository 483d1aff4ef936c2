"""The dashboard's queries on SQLite, PostgreSQL and MariaDB alike."""

from __future__ import annotations

from sqlalchemy import update

from tests.conductor.test_status_changes import add_vim
from vimwatch.conductor.status_changes import apply_status_change
from vimwatch.context import RequestContext, admin_context
from vimwatch.dashboard import queries
from vimwatch.registry.database import Registry
from vimwatch.registry.models import Vim

ADMIN = admin_context()


def flap(registry: Registry, vim_id: str, times: int) -> None:
    for n in range(times):
        apply_status_change(registry, vim_id, "REACHABLE" if n % 2 == 0 else "UNREACHABLE")


def test_status_history_keeps_the_latest_changes_per_vim_oldest_first(registry: Registry) -> None:
    add_vim(registry, "busy")
    add_vim(registry, "calm")
    flap(registry, "busy", queries.HISTORY + 5)
    flap(registry, "calm", 1)
    with registry.reading() as session:
        history = queries.status_history(session, ["busy", "calm"])
        changed = queries.last_changes(session, ["busy", "calm"])
    assert len(history["busy"]) == queries.HISTORY
    assert history["busy"][-1][0] == (
        "REACHABLE" if (queries.HISTORY + 4) % 2 == 0 else "UNREACHABLE"
    )
    assert [status for status, _ in history["calm"]] == ["REACHABLE"]
    assert set(changed) == {"busy", "calm"}


def test_pages_filter_by_name_literally_and_by_project(registry: Registry) -> None:
    for vim_id in ("a_1", "a%2", "ab3", "zz4"):
        add_vim(registry, vim_id)
    with registry.transaction() as session:
        session.execute(update(Vim).where(Vim.id == "zz4").values(tenant_id="q"))
    with registry.reading() as session:

        def names(**where: str) -> list[str]:
            _, vims = queries.vim_page(session, ADMIN, queries.VimFilter(**where), 0, 50)
            return [vim.name for vim in vims]

        assert names(name="A_") == ["a_1"]
        assert names(name="%") == ["a%2"]
        assert sorted(names(name="a")) == ["a%2", "a_1", "ab3"]  # order: the collation's
        assert names(project="q") == ["zz4"]
        member = RequestContext(project_id="q", roles=frozenset({"member"}))
        total, vims = queries.vim_page(session, member, queries.VimFilter(), 0, 50)
        assert total == 1 and vims[0].name == "zz4"


def test_the_feed_reads_events_after_an_id_and_scoped_to_a_project(registry: Registry) -> None:
    add_vim(registry, "v1")
    flap(registry, "v1", 3)
    with registry.reading() as session:
        latest = queries.latest_event_id(session)
        everything = queries.events_after(session, 0, 100)
        after_first = queries.events_after(session, everything[0].id, 100)
        outsider = RequestContext(project_id="other", roles=frozenset())
        hidden = queries.events_after(session, 0, 100, outsider)
        gaps = queries.events_with_ids(session, [everything[1].id])
    assert [e.status for e in everything] == ["REACHABLE", "UNREACHABLE", "REACHABLE"]
    assert everything[-1].id == latest and everything[0].vim_name == "v1"
    assert after_first == everything[1:]
    assert hidden == []
    assert gaps == [everything[1]]
