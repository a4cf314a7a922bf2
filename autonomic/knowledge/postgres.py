"""The PostgreSQL knowledge store: for shared or highly available setups.

Same contract and schema shape as the SQLite store (documents as JSONB beside
indexed columns), versioned migrations in a transaction each, and every write
committed before it returns, so an action journaled by
:meth:`PostgresStore.begin_action` survives the supervisor's crash. Needs the
``postgres`` extra (``psycopg``).
"""

from __future__ import annotations

from typing import Any

import attrs

from autonomic.errors import StoreError
from autonomic.knowledge.memory import id_number
from autonomic.knowledge.records import ActionRecord, ActionStatus, RoundRecord
from autonomic.knowledge.sql import where_clause
from autonomic.knowledge.store import JournalQuery

__all__ = ["MIGRATIONS", "PostgresStore"]

#: schema migrations, applied in order; never edit one that has shipped, append a new one
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE autonomic_rounds (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        entity TEXT NOT NULL,
        started DOUBLE PRECISION NOT NULL,
        doc JSONB NOT NULL
    );
    CREATE INDEX autonomic_rounds_entity_started ON autonomic_rounds (entity, started);
    CREATE INDEX autonomic_rounds_started ON autonomic_rounds (started);
    CREATE TABLE autonomic_actions (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        manager TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        requested DOUBLE PRECISION NOT NULL,
        doc JSONB NOT NULL
    );
    CREATE INDEX autonomic_actions_manager ON autonomic_actions (manager, requested);
    CREATE INDEX autonomic_actions_target ON autonomic_actions (target, requested);
    CREATE INDEX autonomic_actions_status ON autonomic_actions (status);
    CREATE TABLE autonomic_state (
        entity TEXT NOT NULL,
        key TEXT NOT NULL,
        value JSONB NOT NULL,
        PRIMARY KEY (entity, key)
    )
    """,
)

_UNFINISHED = (ActionStatus.PENDING.value, ActionStatus.RUNNING.value, ActionStatus.AWAITING_APPROVAL.value)


@attrs.define
class PostgresStore:
    """Knowledge in a PostgreSQL database (tables prefixed ``autonomic_``)."""

    dsn: str
    connect_timeout: float = 10.0
    _conn: Any = attrs.field(init=False, default=None)

    async def open(self) -> None:
        """Connect and apply pending migrations (serialized by an advisory lock)."""
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError("the PostgreSQL store needs psycopg: pip install 'autonomic[postgres]'") from exc
        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, connect_timeout=int(max(1, self.connect_timeout))
            )
            async with self._conn.transaction():
                await self._conn.execute("SELECT pg_advisory_xact_lock(727011)")  # one migrator at a time
                await self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS autonomic_schema_version (version INTEGER NOT NULL)"
                )
                cur = await self._conn.execute("SELECT coalesce(max(version), 0) FROM autonomic_schema_version")
                row = await cur.fetchone()
                current = int(row[0]) if row else 0
                if current > len(MIGRATIONS):
                    raise StoreError(f"schema version {current} is newer than this autonomic ({len(MIGRATIONS)})")
                for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                    for stmt in filter(str.strip, script.split(";")):
                        await self._conn.execute(stmt)
                    await self._conn.execute("INSERT INTO autonomic_schema_version (version) VALUES (%s)", (version,))
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store: {exc}") from exc

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def schema_version(self) -> int:
        """The schema version of the database."""
        row = await (await self._db.execute("SELECT max(version) FROM autonomic_schema_version")).fetchone()
        return int(row[0] or 0)

    @property
    def _db(self) -> Any:
        if self._conn is None:
            raise StoreError("PostgreSQL store is not open")
        return self._conn

    async def _exec(self, sql: str, params: tuple[Any, ...]) -> Any:
        import psycopg

        try:
            return await self._db.execute(sql, params)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store: {exc}") from exc

    @staticmethod
    def _json(value: Any) -> Any:
        from psycopg.types.json import Jsonb

        return Jsonb(value)

    async def append_round(self, record: RoundRecord) -> None:
        """Append a round."""
        await self._exec(
            "INSERT INTO autonomic_rounds (id, entity, started, doc) VALUES (%s, %s, %s, %s)",
            (record.id, record.entity, record.started, self._json(record.to_json())),
        )

    async def begin_action(self, record: ActionRecord) -> None:
        """Journal the action; committed when this returns."""
        await self._exec(
            "INSERT INTO autonomic_actions (id, manager, target, status, requested, doc) VALUES (%s, %s, %s, %s, %s, %s)",
            (
                record.id,
                record.manager,
                record.target,
                record.status.value,
                record.requested,
                self._json(record.to_json()),
            ),
        )

    async def update_action(self, record: ActionRecord) -> None:
        """Record the action's new status."""
        await self._exec(
            "UPDATE autonomic_actions SET status = %s, doc = %s WHERE id = %s",
            (record.status.value, self._json(record.to_json()), record.id),
        )

    async def rounds(self, query: JournalQuery) -> list[RoundRecord]:
        """Matching rounds, newest first."""
        where, params = where_clause(query, ("entity",), "started", "%s")
        cur = await self._exec(
            f"SELECT doc FROM autonomic_rounds{where} ORDER BY seq DESC LIMIT %s", (*params, query.limit)
        )
        return [RoundRecord.from_json(r[0]) for r in await cur.fetchall()]

    async def actions(self, query: JournalQuery) -> list[ActionRecord]:
        """Matching actions, newest first."""
        where, params = where_clause(query, ("manager", "target"), "requested", "%s")
        cur = await self._exec(
            f"SELECT doc FROM autonomic_actions{where} ORDER BY seq DESC LIMIT %s", (*params, query.limit)
        )
        return [ActionRecord.from_json(r[0]) for r in await cur.fetchall()]

    async def action(self, action_id: str) -> ActionRecord | None:
        """One action by id."""
        cur = await self._exec("SELECT doc FROM autonomic_actions WHERE id = %s", (action_id,))
        row = await cur.fetchone()
        return ActionRecord.from_json(row[0]) if row else None

    async def unfinished_actions(self) -> list[ActionRecord]:
        """Actions journaled as pending, running or awaiting approval."""
        cur = await self._exec(
            "SELECT doc FROM autonomic_actions WHERE status = ANY(%s) ORDER BY seq", (list(_UNFINISHED),)
        )
        return [ActionRecord.from_json(r[0]) for r in await cur.fetchall()]

    async def save_state(self, entity: str, key: str, value: Any) -> None:
        """Upsert a piece of a manager's state."""
        await self._exec(
            "INSERT INTO autonomic_state (entity, key, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (entity, key) DO UPDATE SET value = excluded.value",
            (entity, key, self._json(value)),
        )

    async def load_state(self, entity: str) -> dict[str, Any]:
        """A manager's persisted state."""
        cur = await self._exec("SELECT key, value FROM autonomic_state WHERE entity = %s", (entity,))
        return dict(await cur.fetchall())

    async def last_ids(self) -> tuple[int, int]:
        """Highest sequence numbers used."""
        # Not the last row: rounds are journaled when they end (see SQLiteStore.last_ids).
        r = await (await self._exec("SELECT max(id) FROM autonomic_rounds", ())).fetchone()
        a = await (await self._exec("SELECT max(id) FROM autonomic_actions", ())).fetchone()
        return (id_number(r[0]) if r and r[0] else 0, id_number(a[0]) if a and a[0] else 0)
