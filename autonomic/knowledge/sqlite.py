"""The SQLite knowledge store: the daemon's default, one file, WAL mode.

Writes are small and commit at once, so an action journaled by
:meth:`SQLiteStore.begin_action` survives a kill -9 of the supervisor
(``synchronous=NORMAL`` in WAL mode; ``durability="full"`` also survives a
power loss, at the price of an fsync per write). The schema is versioned:
each migration runs once, in order, inside a transaction.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Literal

import attrs

from autonomic.errors import StoreError
from autonomic.knowledge.memory import id_number
from autonomic.knowledge.records import ActionRecord, ActionStatus, RoundRecord
from autonomic.knowledge.sql import where_clause
from autonomic.knowledge.store import JournalQuery

__all__ = ["MIGRATIONS", "SQLiteStore"]

#: schema migrations, applied in order; never edit one that has shipped, append a new one
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE rounds (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        entity TEXT NOT NULL,
        started REAL NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX rounds_entity_started ON rounds (entity, started);
    CREATE INDEX rounds_started ON rounds (started);
    CREATE TABLE actions (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        manager TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        requested REAL NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX actions_manager ON actions (manager, requested);
    CREATE INDEX actions_target ON actions (target, requested);
    CREATE INDEX actions_status ON actions (status);
    CREATE TABLE state (
        entity TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (entity, key)
    );
    """,
)


@attrs.define
class SQLiteStore:
    """Knowledge in one SQLite file."""

    path: str | Path
    durability: Literal["normal", "full"] = "normal"
    _db: sqlite3.Connection | None = attrs.field(init=False, default=None)

    async def open(self) -> None:
        """Open the file (creating it) and apply pending migrations."""
        try:
            if str(self.path) != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self.durability == 'full' else 'NORMAL'}")
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path}: schema version {current} is newer than this autonomic ({len(MIGRATIONS)})"
                )
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                db.execute("BEGIN")
                try:
                    for stmt in filter(str.strip, script.split(";")):
                        db.execute(stmt)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            self._db = db
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    async def close(self) -> None:
        """Checkpoint and close."""
        if self._db is not None:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._db.close()
                self._db = None

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"{self.path}: store is not open")
        return self._db

    def _exec(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    async def append_round(self, record: RoundRecord) -> None:
        """Append a round."""
        self._exec(
            "INSERT INTO rounds (id, entity, started, doc) VALUES (?, ?, ?, ?)",
            (record.id, record.entity, record.started, json.dumps(record.to_json())),
        )

    async def begin_action(self, record: ActionRecord) -> None:
        """Journal the action; committed when this returns."""
        self._exec(
            "INSERT INTO actions (id, manager, target, status, requested, doc) VALUES (?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.manager,
                record.target,
                record.status.value,
                record.requested,
                json.dumps(record.to_json()),
            ),
        )

    async def update_action(self, record: ActionRecord) -> None:
        """Record the action's new status."""
        self._exec(
            "UPDATE actions SET status = ?, doc = ? WHERE id = ?",
            (record.status.value, json.dumps(record.to_json()), record.id),
        )

    async def rounds(self, query: JournalQuery) -> list[RoundRecord]:
        """Matching rounds, newest first."""
        where, params = where_clause(query, ("entity",), "started", "?")
        rows = self._conn.execute(f"SELECT doc FROM rounds{where} ORDER BY seq DESC LIMIT ?", (*params, query.limit))
        return [RoundRecord.from_json(json.loads(r[0])) for r in rows]

    async def actions(self, query: JournalQuery) -> list[ActionRecord]:
        """Matching actions, newest first."""
        where, params = where_clause(query, ("manager", "target"), "requested", "?")
        rows = self._conn.execute(f"SELECT doc FROM actions{where} ORDER BY seq DESC LIMIT ?", (*params, query.limit))
        return [ActionRecord.from_json(json.loads(r[0])) for r in rows]

    async def action(self, action_id: str) -> ActionRecord | None:
        """One action by id."""
        row = self._conn.execute("SELECT doc FROM actions WHERE id = ?", (action_id,)).fetchone()
        return ActionRecord.from_json(json.loads(row[0])) if row else None

    async def unfinished_actions(self) -> list[ActionRecord]:
        """Actions journaled as pending or running."""
        rows = self._conn.execute(
            "SELECT doc FROM actions WHERE status IN (?, ?, ?) ORDER BY seq",
            (ActionStatus.PENDING.value, ActionStatus.RUNNING.value, ActionStatus.AWAITING_APPROVAL.value),
        )
        return [ActionRecord.from_json(json.loads(r[0])) for r in rows]

    async def save_state(self, entity: str, key: str, value: Any) -> None:
        """Upsert a piece of a manager's state."""
        self._exec(
            "INSERT INTO state (entity, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (entity, key) DO UPDATE SET value = excluded.value",
            (entity, key, json.dumps(value)),
        )

    async def load_state(self, entity: str) -> dict[str, Any]:
        """A manager's persisted state."""
        rows = self._conn.execute("SELECT key, value FROM state WHERE entity = ?", (entity,))
        return {k: json.loads(v) for k, v in rows}

    async def last_ids(self) -> tuple[int, int]:
        """Highest sequence numbers used."""
        # Rounds get their id when they start and are journaled when they end, so the last
        # row is not the highest id; ids are fixed-width, so the greatest string is the highest.
        r = self._conn.execute("SELECT max(id) FROM rounds").fetchone()
        a = self._conn.execute("SELECT max(id) FROM actions").fetchone()
        return (id_number(r[0]) if r and r[0] else 0, id_number(a[0]) if a and a[0] else 0)
