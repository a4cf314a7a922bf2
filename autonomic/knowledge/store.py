"""The knowledge store interface: the journal and the managers' persisted state.

Implementations: :class:`~autonomic.knowledge.memory.MemoryStore` (tests,
simulations) and :class:`~autonomic.knowledge.sqlite.SQLiteStore` (the
daemon's default). The interface is async so a networked store (PostgreSQL)
fits behind it; an action is journaled by :meth:`begin_action` *before* its
effector is invoked, so a restart can find what was in flight.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from autonomic.knowledge.records import ActionRecord, ActionStatus, RoundRecord

__all__ = ["JournalQuery", "KnowledgeStore"]


@attrs.frozen(kw_only=True)
class JournalQuery:
    """Filters for reading the journal; every field is optional."""

    entity: str | None = None
    since: float | None = None
    until: float | None = None
    status: ActionStatus | None = None
    limit: int = 100


class KnowledgeStore(Protocol):
    """Where Knowledge persists."""

    async def open(self) -> None:
        """Connect and migrate the schema."""

    async def close(self) -> None:
        """Flush and release."""

    async def append_round(self, record: RoundRecord) -> None:
        """Append a round to the journal."""

    async def begin_action(self, record: ActionRecord) -> None:
        """Journal an action durably before its effector is invoked (or a held/dry-run one)."""

    async def update_action(self, record: ActionRecord) -> None:
        """Record an action's new status (running, and its outcome)."""

    async def rounds(self, query: JournalQuery) -> list[RoundRecord]:
        """Rounds matching ``query``, newest first."""

    async def actions(self, query: JournalQuery) -> list[ActionRecord]:
        """Actions matching ``query`` (entity = manager or target), newest first."""

    async def action(self, action_id: str) -> ActionRecord | None:
        """One action by id."""

    async def unfinished_actions(self) -> list[ActionRecord]:
        """Actions journaled as pending or running (in flight at the last stop)."""

    async def save_state(self, entity: str, key: str, value: Any) -> None:
        """Persist one piece of a manager's state (remembered, histories, cooldowns, mode)."""

    async def load_state(self, entity: str) -> dict[str, Any]:
        """Every persisted piece of one manager's state."""

    async def last_ids(self) -> tuple[int, int]:
        """The highest round and action sequence numbers used."""
