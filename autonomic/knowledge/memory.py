"""An in-memory knowledge store, for tests and simulations."""

from __future__ import annotations

from collections import deque
from typing import Any

import attrs

from autonomic.knowledge.records import ActionRecord, RoundRecord
from autonomic.knowledge.store import JournalQuery

__all__ = ["MemoryStore", "id_number", "matches_action", "matches_round"]


def id_number(record_id: str) -> int:
    """The sequence number in an id such as ``R000042``."""
    try:
        return int(record_id[1:])
    except ValueError:
        return 0


def matches_round(r: RoundRecord, q: JournalQuery) -> bool:
    """Whether a round passes the query's filters."""
    return (
        (q.entity is None or r.entity == q.entity)
        and (q.since is None or r.started >= q.since)
        and (q.until is None or r.started <= q.until)
    )


def matches_action(a: ActionRecord, q: JournalQuery) -> bool:
    """Whether an action passes the query's filters."""
    return (
        (q.entity is None or q.entity in (a.manager, a.target))
        and (q.since is None or a.requested >= q.since)
        and (q.until is None or a.requested <= q.until)
        and (q.status is None or a.status is q.status)
    )


@attrs.define
class MemoryStore:
    """Keeps the journal in memory (the newest ``max_rounds`` rounds and ``max_actions`` actions)."""

    max_rounds: int = 1_000_000
    max_actions: int = 1_000_000
    _rounds: deque[RoundRecord] = attrs.field(init=False)
    _actions: dict[str, ActionRecord] = attrs.field(init=False, factory=dict)
    _state: dict[str, dict[str, Any]] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self._rounds = deque(maxlen=self.max_rounds)

    async def open(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close."""

    async def append_round(self, record: RoundRecord) -> None:
        """Keep the round."""
        self._rounds.append(record)

    async def begin_action(self, record: ActionRecord) -> None:
        """Keep the action."""
        self._actions[record.id] = record
        if len(self._actions) > self.max_actions:
            del self._actions[next(iter(self._actions))]

    async def update_action(self, record: ActionRecord) -> None:
        """Replace the action's record."""
        self._actions[record.id] = record

    async def rounds(self, query: JournalQuery) -> list[RoundRecord]:
        """Matching rounds, newest first."""
        out = []
        for r in reversed(self._rounds):
            if matches_round(r, query):
                out.append(r)
                if len(out) >= query.limit:
                    break
        return out

    async def actions(self, query: JournalQuery) -> list[ActionRecord]:
        """Matching actions, newest first."""
        out = []
        for a in reversed(self._actions.values()):
            if matches_action(a, query):
                out.append(a)
                if len(out) >= query.limit:
                    break
        return out

    async def action(self, action_id: str) -> ActionRecord | None:
        """One action by id."""
        return self._actions.get(action_id)

    async def unfinished_actions(self) -> list[ActionRecord]:
        """Pending or running actions."""
        return [a for a in self._actions.values() if not a.status.final]

    async def save_state(self, entity: str, key: str, value: Any) -> None:
        """Keep a piece of state."""
        self._state.setdefault(entity, {})[key] = value

    async def load_state(self, entity: str) -> dict[str, Any]:
        """A manager's state."""
        return dict(self._state.get(entity, {}))

    async def last_ids(self) -> tuple[int, int]:
        """Highest sequence numbers used."""
        r = max((id_number(x.id) for x in self._rounds), default=0)
        a = max((id_number(x) for x in self._actions), default=0)
        return r, a

    @property
    def all_rounds(self) -> list[RoundRecord]:
        """Every kept round, oldest first (tests)."""
        return list(self._rounds)

    @property
    def all_actions(self) -> list[ActionRecord]:
        """Every kept action, oldest first (tests)."""
        return list(self._actions.values())
