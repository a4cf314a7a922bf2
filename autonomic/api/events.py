"""The API's event bus: new rounds, actions and lifecycle changes, fanned out to subscribers.

Each subscriber has its own bounded memory object stream. Publishing never
blocks and never raises into the runtime: when a subscriber is too slow its
stream is full, the event is dropped for that subscriber alone, and the
subscriber is told how many it missed.

Feeds:

- rounds and actions: :class:`JournalTap`, a knowledge store that forwards
  every call to the real store and publishes what was journaled. Everything
  the journal gets passes through the store, so nothing is missed and
  nothing is polled.
- lifecycle, up and ready changes: the runtime's ``status_listeners`` hook
  (a list of callables ``(entity, field, old, new)``), when the runtime has it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from autonomic.knowledge.records import ActionRecord, RoundRecord
from autonomic.knowledge.store import JournalQuery, KnowledgeStore

if TYPE_CHECKING:
    from autonomic.entity import Entity
    from autonomic.runtime import Runtime

__all__ = ["EVENT_KINDS", "Event", "EventBus", "EventKind", "JournalTap", "Subscription"]

EventKind = Literal["round", "action", "lifecycle"]
#: what the bus carries
EVENT_KINDS: tuple[EventKind, ...] = ("round", "action", "lifecycle")


@attrs.frozen(kw_only=True)
class Event:
    """One event: a sequence number (per bus), its kind and its JSON data."""

    seq: int
    kind: EventKind
    data: dict[str, Any]

    def concerns(self, entity_id: str) -> bool:
        """Whether the event is about ``entity_id`` (a round's entity, an action's manager or target)."""
        d = self.data
        return entity_id in (d.get("entity"), d.get("manager"), d.get("target"))


@attrs.define(eq=False)
class Subscription:
    """A subscriber's end of the bus."""

    stream: MemoryObjectReceiveStream[Event]
    #: events dropped because the stream was full, since the subscriber last looked
    dropped: int = 0

    def take_dropped(self) -> int:
        """How many events were dropped since the last call."""
        n, self.dropped = self.dropped, 0
        return n


@attrs.define(eq=False)
class EventBus:
    """Fans events out to subscribers, each behind a stream of ``capacity`` events."""

    capacity: int = 256
    _subscribers: dict[Subscription, MemoryObjectSendStream[Event]] = attrs.field(init=False, factory=dict)
    _seq: int = attrs.field(init=False, default=0)
    _closed: bool = attrs.field(init=False, default=False)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (the API is shutting down)."""
        return self._closed

    @property
    def subscribers(self) -> int:
        """How many subscribers are attached."""
        return len(self._subscribers)

    def publish(self, kind: EventKind, data: dict[str, Any]) -> None:
        """Send an event to every subscriber now; a full subscriber misses it (and is told)."""
        if not self._subscribers:
            return
        self._seq += 1
        event = Event(seq=self._seq, kind=kind, data=data)
        for sub, send in list(self._subscribers.items()):
            try:
                send.send_nowait(event)
            except anyio.WouldBlock:
                sub.dropped += 1
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.pop(sub, None)

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A subscription for the ``with`` block; its stream ends when the bus closes."""
        send, receive = anyio.create_memory_object_stream[Event](self.capacity)
        sub = Subscription(stream=receive)
        if self._closed:
            send.close()
        else:
            self._subscribers[sub] = send
        try:
            yield sub
        finally:
            self._subscribers.pop(sub, None)
            send.close()
            receive.close()

    def close(self) -> None:
        """End every subscription (their streams finish) and refuse new ones."""
        self._closed = True
        for send in self._subscribers.values():
            send.close()
        self._subscribers.clear()

    # -- feeds --------------------------------------------------------------------------
    def on_status_changed(self, entity: Entity, field: str, old: Any, new: Any) -> None:
        """The runtime's status listener: a lifecycle, up or ready change."""
        self.publish(
            "lifecycle",
            {"entity": entity.id, "field": field, "from": _plain(old), "to": _plain(new), "time": entity.now()},
        )

    def attach(self, runtime: Runtime) -> None:
        """Feed the bus from ``runtime``: its journal (through a :class:`JournalTap`) and its status changes."""
        knowledge = runtime.knowledge
        store = knowledge.store
        if not (isinstance(store, JournalTap) and store.bus is self):
            knowledge.store = JournalTap(store, self)
        # The hook is optional so the API runs on a runtime without it (no lifecycle events then).
        listeners = getattr(runtime, "status_listeners", None)
        if isinstance(listeners, list) and self.on_status_changed not in listeners:
            listeners.append(self.on_status_changed)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


@attrs.define(eq=False)
class JournalTap:
    """A knowledge store that forwards to ``inner`` and publishes what was journaled on ``bus``."""

    inner: KnowledgeStore
    bus: EventBus

    async def open(self) -> None:
        """Open the inner store."""
        await self.inner.open()

    async def close(self) -> None:
        """Close the inner store."""
        await self.inner.close()

    async def append_round(self, record: RoundRecord) -> None:
        """Journal the round, then publish it."""
        await self.inner.append_round(record)
        self.bus.publish("round", record.to_json())

    async def begin_action(self, record: ActionRecord) -> None:
        """Journal the action, then publish it."""
        await self.inner.begin_action(record)
        self.bus.publish("action", record.to_json())

    async def update_action(self, record: ActionRecord) -> None:
        """Journal the action's new status, then publish it."""
        await self.inner.update_action(record)
        self.bus.publish("action", record.to_json())

    async def rounds(self, query: JournalQuery) -> list[RoundRecord]:
        """Rounds from the inner store."""
        return await self.inner.rounds(query)

    async def actions(self, query: JournalQuery) -> list[ActionRecord]:
        """Actions from the inner store."""
        return await self.inner.actions(query)

    async def action(self, action_id: str) -> ActionRecord | None:
        """One action from the inner store."""
        return await self.inner.action(action_id)

    async def unfinished_actions(self) -> list[ActionRecord]:
        """Unfinished actions from the inner store."""
        return await self.inner.unfinished_actions()

    async def save_state(self, entity: str, key: str, value: Any) -> None:
        """Save state in the inner store."""
        await self.inner.save_state(entity, key, value)

    async def load_state(self, entity: str) -> dict[str, Any]:
        """Load state from the inner store."""
        return await self.inner.load_state(entity)

    async def last_ids(self) -> tuple[int, int]:
        """Last ids of the inner store."""
        return await self.inner.last_ids()
