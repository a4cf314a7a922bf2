"""Brooklyn's lifecycle states, and an entity's lifecycle as a value."""

from __future__ import annotations

import enum

import attrs

__all__ = ["Lifecycle", "LifecycleState"]


class Lifecycle(enum.StrEnum):
    """The states of an entity's lifecycle (Apache Brooklyn's names)."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ON_FIRE = "on_fire"


@attrs.frozen(kw_only=True)
class LifecycleState:
    """Expected vs actual lifecycle, and since when the actual state holds."""

    expected: Lifecycle = Lifecycle.CREATED
    actual: Lifecycle = Lifecycle.CREATED
    since: float = 0.0
