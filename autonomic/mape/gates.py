"""Safety gates: what may hold an action back before its effector is invoked.

Each gate answers "why not" (a sentence journaled with the held action) or
None. Gates keep their own small state (call times, failure counts); it lives
in memory and restarts empty, which errs on the side of letting a restarted
supervisor act, while cooldowns and modes are persisted with Knowledge.
"""

from __future__ import annotations

import math
from collections import deque

import attrs

from autonomic.entity import Entity
from autonomic.knowledge.records import ActionStatus
from autonomic.mape.settings import GateSettings
from autonomic.mape.validate import PlannedAction

__all__ = ["Gates"]


def _trim(times: deque[float], oldest: float) -> deque[float]:
    while times and times[0] <= oldest:
        times.popleft()
    return times


@attrs.define
class Gates:
    """Rate limits, blast radius and circuit breakers, for one executor."""

    _by_effector: dict[tuple[str, str], deque[float]] = attrs.field(factory=dict)
    _by_target: dict[str, deque[float]] = attrs.field(factory=dict)
    _members_touched: dict[str, deque[tuple[float, str]]] = attrs.field(factory=dict)
    _failures: dict[tuple[str, str], int] = attrs.field(factory=dict)
    _open_until: dict[tuple[str, str], float] = attrs.field(factory=dict)

    @staticmethod
    def _breaker_key(p: PlannedAction) -> tuple[str, str]:
        # Per entity type and effector: repeated failures of `restart` on several
        # members of one kind usually mean the effector itself is broken.
        return (p.target.type_name, p.spec.name)

    def check(self, manager: Entity | None, p: PlannedAction, now: float, g: GateSettings) -> str | None:
        """Why ``p`` must be held back now, or None."""
        key = self._breaker_key(p)
        until = self._open_until.get(key)
        if until is not None:
            if until > now:
                return (
                    f"held: circuit breaker open for {key[0]}.{key[1]} after {g.breaker_failures} failures "
                    f"in a row, until {until:.3f}"
                )
            del self._open_until[key]  # half-open: one call may try again
        manager_id = manager.id if manager is not None else "operator"
        limit = g.effector_rate.get(p.spec.name)
        if limit is not None:
            times = _trim(self._by_effector.get((manager_id, p.spec.name), deque()), now - limit.window_s)
            if len(times) >= limit.max_calls:
                return f"held: rate limit of {p.spec.name}: {limit.max_calls} per {limit.window_s:g} s reached"
        if g.entity_rate is not None:
            times = _trim(self._by_target.get(p.target_id, deque()), now - g.entity_rate.window_s)
            if len(times) >= g.entity_rate.max_calls:
                return (
                    f"held: rate limit of {p.target_id}: {g.entity_rate.max_calls} actions per "
                    f"{g.entity_rate.window_s:g} s reached"
                )
        member = self._member_of(manager, p.target)
        if member is not None and g.blast_radius_share is not None and manager is not None:
            touched = self._members_touched.get(manager.id, deque())
            while touched and touched[0][0] <= now - g.blast_radius_window_s:
                touched.popleft()
            recent = {m for _, m in touched}
            allowed = max(1, math.floor(g.blast_radius_share * len(manager.children)))
            if member not in recent and len(recent) >= allowed:
                return (
                    f"held: blast radius: {len(recent)} of {len(manager.children)} members of {manager.id} acted on "
                    f"within {g.blast_radius_window_s:g} s (at most {allowed})"
                )
        return None

    @staticmethod
    def _member_of(manager: Entity | None, target: Entity) -> str | None:
        """The child of ``manager`` that contains ``target`` (None for the manager itself or outside it)."""
        if manager is None or target is manager:
            return None
        prefix = manager.id + "/"
        if not target.id.startswith(prefix):
            return None
        return prefix + target.id[len(prefix) :].split("/", 1)[0]

    def admitted(self, manager: Entity | None, p: PlannedAction, now: float) -> None:
        """Count an action that passed the gates."""
        manager_id = manager.id if manager is not None else "operator"
        self._by_effector.setdefault((manager_id, p.spec.name), deque()).append(now)
        self._by_target.setdefault(p.target_id, deque()).append(now)
        member = self._member_of(manager, p.target)
        if member is not None and manager is not None:
            self._members_touched.setdefault(manager.id, deque()).append((now, member))

    def outcome(self, p: PlannedAction, status: ActionStatus, now: float, g: GateSettings) -> bool:
        """Feed an outcome to the breaker; True when this outcome opened it."""
        key = self._breaker_key(p)
        if status is ActionStatus.OK:
            self._failures.pop(key, None)
            return False
        n = self._failures.get(key, 0) + 1
        self._failures[key] = n
        if n >= g.breaker_failures > 0:
            self._open_until[key] = now + g.breaker_reset_s
            self._failures[key] = 0
            return True
        return False
