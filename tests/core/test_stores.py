"""Knowledge stores: memory and SQLite keep the same contract; SQLite survives a reopen."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from autonomic import ManagementSpec, ManagerSettings, PolicyBinding
from autonomic.clock import VirtualClock
from autonomic.knowledge import (
    ActionRecord,
    ActionStatus,
    JournalQuery,
    Knowledge,
    KnowledgeStore,
    MemoryStore,
    RoundRecord,
    SQLiteStore,
)
from autonomic.knowledge.sqlite import MIGRATIONS
from autonomic.policy import EmbeddedEngine, PolicySet
from autonomic.runtime import Runtime
from tests.core.entities_for_tests import cluster_with


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KnowledgeStore]:
    s: KnowledgeStore = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "k.db")
    await s.open()
    yield s
    await s.close()


def action(
    i: int, status: ActionStatus = ActionStatus.PENDING, *, manager: str = "a", target: str = "a/b"
) -> ActionRecord:
    return ActionRecord(
        id=f"A{i:09d}",
        round_id=f"R{i:09d}",
        manager=manager,
        target=target,
        effector="resize",
        args={"replicas": i},
        status=status,
        requested=float(i),
    )


def round_(i: int, entity: str = "a") -> RoundRecord:
    return RoundRecord(
        id=f"R{i:09d}",
        entity=entity,
        started=float(i),
        finished=float(i) + 0.1,
        trigger="interval",
        mode="enforce",
        decision={"actions": []},
    )


@pytest.mark.anyio
async def test_journal_roundtrip_and_filters(store: KnowledgeStore) -> None:
    await check_journal_contract(store)


@pytest.mark.integration
@pytest.mark.anyio
async def test_postgres_store_keeps_the_same_contract_and_survives_reconnects(pg_dsn: str) -> None:
    from autonomic.knowledge.postgres import MIGRATIONS as PG_MIGRATIONS
    from autonomic.knowledge.postgres import PostgresStore

    store = PostgresStore(pg_dsn)
    await store.open()
    try:
        await check_journal_contract(store)
        assert await store.schema_version() == len(PG_MIGRATIONS)
    finally:
        await store.close()
    again = PostgresStore(pg_dsn)
    await again.open()  # migrations are not applied twice
    try:
        assert await again.last_ids() == (5, 5)
        assert await again.load_state("a") == {"remembered": {"k": [3]}}
        assert len(await again.unfinished_actions()) == 4
    finally:
        await again.close()


async def check_journal_contract(store: KnowledgeStore) -> None:
    for i in range(1, 6):
        await store.append_round(round_(i, "a" if i % 2 else "b"))
        await store.begin_action(action(i, manager="a" if i % 2 else "b"))
    await store.update_action(action(3, ActionStatus.OK))
    assert [r.id for r in await store.rounds(JournalQuery(entity="a"))] == ["R000000005", "R000000003", "R000000001"]
    assert [r.id for r in await store.rounds(JournalQuery(since=2, until=4))] == [
        "R000000004",
        "R000000003",
        "R000000002",
    ]
    assert [a.id for a in await store.actions(JournalQuery(status=ActionStatus.OK))] == ["A000000003"]
    assert len(await store.actions(JournalQuery(entity="a/b", limit=2))) == 2
    got = await store.action("A000000003")
    assert got is not None and got.status is ActionStatus.OK and got.args == {"replicas": 3}
    assert {a.id for a in await store.unfinished_actions()} == {"A000000001", "A000000002", "A000000004", "A000000005"}
    assert await store.last_ids() == (5, 5)
    await store.save_state("a", "remembered", {"k": [1, 2]})
    await store.save_state("a", "remembered", {"k": [3]})
    assert await store.load_state("a") == {"remembered": {"k": [3]}}


@pytest.mark.anyio
async def test_sqlite_is_durable_across_reopen_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    s = SQLiteStore(path)
    await s.open()
    await s.begin_action(action(7))
    # no close: a crash. Another connection sees the committed entry.
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM actions").fetchone() == (1,)
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()
    s2 = SQLiteStore(path)
    await s2.open()
    assert s2.schema_version == len(MIGRATIONS)
    assert [a.id for a in await s2.unfinished_actions()] == ["A000000007"]
    await s2.close()
    await s.close()


@pytest.mark.anyio
async def test_a_daemon_restart_continues_ids_and_restores_manager_state(tmp_path: Path) -> None:
    rego = """package t
import rego.v1
decision := {"remember": {"rounds": object.get(input.knowledge.remembered, "rounds", 0) + 1}}
"""
    path = tmp_path / "k.db"
    for run in range(2):
        clock = VirtualClock(start=1000.0 * run)
        kn = Knowledge(SQLiteStore(path), clock)
        await kn.open()
        c = cluster_with(1)
        rt = Runtime(
            c,
            EmbeddedEngine(PolicySet.from_texts({"t.rego": rego})),
            kn,
            clock,
            management={
                "c": ManagementSpec(bindings=(PolicyBinding(package="t"),), settings=ManagerSettings(interval=10))
            },
            restore_state=True,
        )
        async with rt.running():
            await clock.run(45)
        await kn.close()
    s = SQLiteStore(path)
    await s.open()
    rounds = await s.rounds(JournalQuery(limit=1000))
    ids = [r.id for r in reversed(rounds)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    state = await s.load_state("c")
    assert state["remembered"]["rounds"] == len(rounds)  # the count carried across the restart
    await s.close()


@pytest.mark.anyio
async def test_last_ids_are_the_highest_not_the_last_journaled(tmp_path: Path) -> None:
    # A long round started first (lower id) may be journaled after a later one.
    for store in (MemoryStore(), SQLiteStore(tmp_path / "ids.db")):
        await store.open()
        await store.append_round(round_(7))
        await store.append_round(round_(3))
        await store.begin_action(action(9))
        await store.begin_action(action(2))
        assert await store.last_ids() == (7, 9)
        await store.close()
