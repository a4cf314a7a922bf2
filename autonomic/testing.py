"""Helpers for testing your own entities and policies.

:func:`managed` runs an entity tree with its managers on a virtual clock (or
any clock) and an in-memory journal, so a scenario of minutes runs in
milliseconds and deterministically::

    async with managed(cluster, {"my.policy": ...}, policies={"p.rego": REGO}) as h:
        await h.advance(600)
        assert h.actions(effector="resize")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import attrs

from autonomic.clock import Clock, VirtualClock
from autonomic.entity import Entity
from autonomic.knowledge.knowledge import Knowledge
from autonomic.knowledge.memory import MemoryStore
from autonomic.knowledge.records import ActionRecord, RoundRecord
from autonomic.mape.settings import ManagementSpec, ManagerSettings, PolicyBinding
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.engine import PolicyEngine, PolicySet
from autonomic.runtime import EntityFactory, Runtime

__all__ = ["Harness", "managed"]


@attrs.define
class Harness:
    """A running tree under test: its runtime, clock and journal."""

    runtime: Runtime
    clock: Clock
    store: MemoryStore

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of scenario time pass (virtual clocks only)."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("advance needs a VirtualClock; sleep on the real clock instead")
        await self.clock.run(seconds)

    def rounds(self, entity: str | None = None) -> list[RoundRecord]:
        """Journaled rounds, oldest first (of one entity if given)."""
        return [r for r in self.store.all_rounds if entity is None or r.entity == entity]

    def actions(self, *, effector: str | None = None, target: str | None = None) -> list[ActionRecord]:
        """Journaled actions, oldest first, filtered by effector and target."""
        return [
            a
            for a in self.store.all_actions
            if (effector is None or a.effector == effector) and (target is None or a.target == target)
        ]

    def errors(self) -> list[RoundRecord]:
        """Rounds that ended in a policy or decision error."""
        return [r for r in self.store.all_rounds if r.error]


def _spec(value: ManagementSpec | str | PolicyBinding | ManagerSettings | None, package: str) -> ManagementSpec:
    if isinstance(value, ManagementSpec):
        return value
    if isinstance(value, ManagerSettings):
        return ManagementSpec(bindings=(PolicyBinding.for_package(package),), settings=value)
    return ManagementSpec(bindings=(PolicyBinding.for_package(package),))


@asynccontextmanager
async def managed(
    root: Entity,
    manage: Mapping[str, tuple[str, ManagerSettings | None] | ManagementSpec],
    *,
    policies: Mapping[str, str] | PolicySet | list[str | Path] | None = None,
    engine: PolicyEngine | None = None,
    clock: Clock | None = None,
    store: MemoryStore | None = None,
    factory: EntityFactory | None = None,
    start_entities: bool = True,
) -> AsyncIterator[Harness]:
    """Run ``root`` with managers for the entities in ``manage``.

    ``manage`` maps an entity id to a :class:`ManagementSpec`, or to
    ``(package, settings)``. ``policies`` are Rego texts by name, a
    :class:`PolicySet`, or files and folders.
    """
    clock = clock or VirtualClock()
    if engine is None:
        if isinstance(policies, PolicySet):
            pset = policies
        elif isinstance(policies, Mapping):
            pset = PolicySet.from_texts(dict(policies))
        else:
            pset = PolicySet.from_paths(policies or [])
        engine = EmbeddedEngine(pset, offload=not clock.is_virtual, clock=clock)
    store = store or MemoryStore()
    knowledge = Knowledge(store, clock)
    await knowledge.open()
    management: dict[str, ManagementSpec] = {}
    for entity_id, value in manage.items():
        if isinstance(value, ManagementSpec):
            management[entity_id] = value
        else:
            package, settings = value
            management[entity_id] = _spec(settings, package)
    runtime = Runtime(
        root, engine, knowledge, clock, management=management, factory=factory, start_entities=start_entities
    )
    try:
        async with runtime.running():
            yield Harness(runtime=runtime, clock=clock, store=store)
    finally:
        await knowledge.close()
