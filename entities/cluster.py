"""ClusterEntity: a group of like members built from a member spec, resized and repaired by policies."""

from __future__ import annotations

from typing import Any

import anyio
import attrs

from autonomic.effector import effector
from autonomic.enrichers import Count, QuorumUp
from autonomic.entity import Entity
from autonomic.errors import PermanentEffectorError
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor

__all__ = ["ClusterEntity"]


class ClusterEntity(Entity, type_name="cluster"):
    """Members (its children) created from ``config.member``, a blueprint-style entity spec.

    ``resize`` adds members (started concurrently) or removes the newest (unready
    ones first); ``replace_member`` starts a replacement before stopping the old
    member. Each successful resize appends ``{"change": +/-n}`` to the
    ``scale_events`` history the scaling policy reads. A resize beyond
    ``max_size`` (the capacity available) grows to it, publishes
    ``capacity_high_water_mark`` and fails.
    """

    @attrs.frozen(kw_only=True)
    class Config:
        """Member spec, sizes, and the config blocks the library policies read."""

        member: dict[str, Any] = attrs.field(factory=dict)
        initial_size: int = 1
        #: capacity: how many members can exist at most (None: unlimited)
        max_size: int | None = None
        name_prefix: str = "member"
        scaling: dict[str, Any] = attrs.field(factory=dict)
        bounds_scaling: dict[str, Any] = attrs.field(factory=dict)
        failover: dict[str, Any] = attrs.field(factory=dict)

    replicas = Sensor(int, description="desired member count (the last resize)")
    observed_replicas = Sensor(int, enricher=Count("all"), description="members that exist")
    ready_members = Sensor(int, enricher=Count("ready"), description="members able to take work")
    up_members = Sensor(int, enricher=Count("up"), description="members alive")
    service_up = Sensor(bool, enricher=QuorumUp("any"), description="at least one member is up")
    capacity_high_water_mark = Sensor(int, nullable=True, description="size reached when capacity ran out")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        self._next_index = 0

    def _new_member(self) -> Entity:
        name = f"{self.config.name_prefix}-{self._next_index}"
        self._next_index += 1
        return self.add_child(self.context.create_entity(self.config.member, name=name))

    def members(self) -> list[Entity]:
        """The members, oldest first."""
        return self.children

    async def on_start(self) -> None:
        """Create the initial members (they start with the cluster)."""
        if not self.children:
            for _ in range(self.config.initial_size):
                self._new_member()
        self.replicas.publish(len(self.children))

    @effector(timeout=600, idempotent=True, cooldown=0, description="set the member count")
    async def resize(self, replicas: int) -> None:
        """Grow or shrink to ``replicas`` members."""
        if replicas < 0:
            raise PermanentEffectorError(f"replicas must be >= 0, got {replicas}")
        before = len(self.children)
        cap = self.config.max_size
        target = replicas if cap is None else min(replicas, cap)
        if target > before:
            new = [self._new_member() for _ in range(target - before)]
            async with anyio.create_task_group() as tg:
                for m in new:
                    tg.start_soon(m.start)
        elif target < before:
            # Remove unready members first, then the newest (like the ReplicaSet controller).
            order = sorted(self.children, key=lambda m: (m.ready, -self.children.index(m)))
            victims = order[: before - target]
            async with anyio.create_task_group() as tg:
                for m in victims:
                    tg.start_soon(m.stop)
            for m in victims:
                self.remove_child(m.name)
        after = len(self.children)
        self.replicas.publish(after)
        if after != before:
            self.record_history("scale_events", change=after - before)
        if target < replicas:
            self.capacity_high_water_mark.publish(after)
            raise PermanentEffectorError(f"insufficient capacity: asked for {replicas} members, reached {after}")

    @effector(timeout=600, idempotent=False, description="replace a member: start a new one, then stop the old")
    async def replace_member(self, id: str) -> str:  # noqa: A002 - the contract's parameter name
        """Start a replacement for member ``id`` and, once it runs, stop and remove ``id``."""
        old = self.find(id)
        if old is None or old.parent is not self:
            raise PermanentEffectorError(f"{id} is not a member of {self.id}")
        new = self._new_member()
        await new.start()
        if new.lifecycle.actual is not Lifecycle.RUNNING:
            raise PermanentEffectorError(f"replacement {new.id} did not reach running")
        try:
            await old.stop()
        finally:
            self.remove_child(old.name)
        self.replicas.publish(len(self.children))
        return new.id
