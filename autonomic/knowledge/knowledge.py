"""Knowledge: the graph, the journal, and what each manager's next round reads."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

import attrs

from autonomic.clock import Clock
from autonomic.knowledge.graph import EntityGraph
from autonomic.knowledge.history import NamedHistory
from autonomic.knowledge.records import ActionRecord, RoundRecord
from autonomic.knowledge.store import KnowledgeStore

__all__ = ["Knowledge", "ManagerState"]

DEFAULT_RETENTION_S = 3600.0


@attrs.define
class ManagerState:
    """The knowledge one entity's manager carries from round to round."""

    remembered: dict[str, Any] = attrs.field(factory=dict)
    histories: dict[str, NamedHistory] = attrs.field(factory=dict)
    #: this entity's own cooldowns: effector to the time it ends (whoever invoked it)
    cooldowns: dict[str, float] = attrs.field(factory=dict)
    recent_actions: deque[ActionRecord] = attrs.field(factory=lambda: deque(maxlen=50))
    retention_s: float = DEFAULT_RETENTION_S
    mode: str | None = None
    dirty: set[str] = attrs.field(factory=set)

    def history(self, name: str) -> NamedHistory:
        """The named history (created empty)."""
        h = self.histories.get(name)
        if h is None:
            h = self.histories[name] = NamedHistory()
        return h

    def active_cooldowns(self, now: float) -> dict[str, float]:
        """This entity's cooldowns still running at ``now`` (expired ones are dropped)."""
        if not self.cooldowns:
            return {}
        live = {e: t for e, t in self.cooldowns.items() if t > now}
        if len(live) != len(self.cooldowns):
            self.cooldowns = live
            self.dirty.add("cooldowns")
        return live


@attrs.define
class Knowledge:
    """Shared knowledge of one supervisor: graph, store (journal), per-manager state."""

    store: KnowledgeStore
    clock: Clock
    graph: EntityGraph = attrs.field(factory=EntityGraph)
    _states: dict[str, ManagerState] = attrs.field(init=False, factory=dict)
    _round_seq: itertools.count[int] = attrs.field(init=False, factory=lambda: itertools.count(1))
    _action_seq: itertools.count[int] = attrs.field(init=False, factory=lambda: itertools.count(1))
    #: the newest rounds of every manager, for live views (the store keeps them all)
    recent_rounds: deque[RoundRecord] = attrs.field(init=False, factory=lambda: deque(maxlen=200))

    async def open(self) -> None:
        """Open the store; ids continue after the last ones it holds."""
        await self.store.open()
        last_round, last_action = await self.store.last_ids()
        self._round_seq = itertools.count(last_round + 1)
        self._action_seq = itertools.count(last_action + 1)

    async def close(self) -> None:
        """Persist every manager's state and close the store."""
        for entity_id in list(self._states):
            await self.persist(entity_id, everything=True)
        await self.store.close()

    def next_round_id(self) -> str:
        """A new round id (``R`` and a sequence number)."""
        return f"R{next(self._round_seq):09d}"

    def next_action_id(self) -> str:
        """A new action id (``A`` and a sequence number)."""
        return f"A{next(self._action_seq):09d}"

    def state(self, entity_id: str) -> ManagerState:
        """The state of the manager of ``entity_id`` (created empty)."""
        st = self._states.get(entity_id)
        if st is None:
            st = self._states[entity_id] = ManagerState()
        return st

    async def restore(self, entity_id: str) -> ManagerState:
        """Load a manager's state from the store (after a restart)."""
        st = self.state(entity_id)
        saved = await self.store.load_state(entity_id)
        st.remembered.update(saved.get("remembered") or {})
        for name, records in (saved.get("histories") or {}).items():
            st.histories[name] = NamedHistory(records)
        st.cooldowns.update(saved.get("cooldowns") or {})
        if saved.get("mode"):
            st.mode = saved["mode"]
        return st

    async def persist(self, entity_id: str, *, everything: bool = False) -> None:
        """Write the parts of a manager's state that changed (all of them with ``everything``)."""
        st = self._states.get(entity_id)
        if st is None:
            return
        keys = {"remembered", "histories", "cooldowns", "mode"} if everything else set(st.dirty)
        st.dirty.clear()
        for key in sorted(keys):
            if key == "remembered":
                value: Any = st.remembered
            elif key == "histories":
                value = {n: h.records() for n, h in st.histories.items()}
            elif key == "cooldowns":
                value = st.cooldowns
            else:
                value = st.mode
            await self.store.save_state(entity_id, key, value)

    def cooldowns(self, entity_ids: list[str], now: float) -> dict[str, dict[str, float]]:
        """Active cooldowns of these entities, by entity id (those with none left out)."""
        out: dict[str, dict[str, float]] = {}
        for eid in entity_ids:
            st = self._states.get(eid)
            if st is not None and st.cooldowns:
                live = st.active_cooldowns(now)
                if live:
                    out[eid] = live
        return out

    def start_cooldown(self, entity_id: str, effector: str, until: float) -> None:
        """Hold further calls of ``effector`` on ``entity_id`` until ``until``."""
        st = self.state(entity_id)
        st.cooldowns[effector] = max(until, st.cooldowns.get(effector, until))
        st.dirty.add("cooldowns")

    def record_history(self, entity_id: str, name: str, record: dict[str, Any]) -> None:
        """Append to a named history of ``entity_id``, trimmed to its retention."""
        st = self.state(entity_id)
        h = st.history(name)
        h.append(record)
        h.trim(record["time"] - st.retention_s)
        st.dirty.add("histories")

    async def journal_round(self, record: RoundRecord) -> None:
        """Append a round to the journal."""
        self.recent_rounds.append(record)
        await self.store.append_round(record)

    async def begin_action(self, record: ActionRecord) -> None:
        """Journal an action (durably, before its effector runs)."""
        self.state(record.manager).recent_actions.append(record)
        await self.store.begin_action(record)

    def recent_actions(self, limit: int = 20) -> list[ActionRecord]:
        """The newest actions of every manager, newest last."""
        merged = [a for st in self._states.values() for a in st.recent_actions]
        merged.sort(key=lambda a: (a.requested, a.id))
        return merged[-limit:]

    async def update_action(self, record: ActionRecord) -> None:
        """Journal an action's new status."""
        recent = self.state(record.manager).recent_actions
        for i, old in enumerate(recent):
            if old.id == record.id:
                recent[i] = record
                break
        await self.store.update_action(record)
