"""Monitor: poll what must be read, then build the policy input document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from autonomic.clock import Clock
from autonomic.entity import Entity
from autonomic.knowledge.knowledge import ManagerState

__all__ = ["build_input", "poll", "summarize"]


def summarize(entity: Entity) -> dict[str, Any]:
    """The entity summary of the decision contract (``input.entity``, each of ``input.children``)."""
    lc = entity.lifecycle
    return {
        "id": entity.id,
        "name": entity.name,
        "type": entity.type_name,
        "config": entity.config_json,
        "lifecycle": lc.actual.value,
        "expected": lc.expected.value,
        "lifecycle_since": lc.since,
        "up": entity.up,
        "not_up_reasons": entity.not_up_reasons,
        "ready": entity.ready,
        "sensors": entity.sensor_values(),
        "sensor_times": entity.sensor_times(),
        "effectors": sorted(entity.effector_specs),
    }


async def poll(entities: Sequence[Entity], clock: Clock, timeout: float) -> None:
    """Call ``poll`` of every entity that has one, concurrently, each under ``timeout``.

    A poll that fails or hangs is reported as a problem of its entity (and so
    journaled by the manager); the round goes on with the values it has.
    """

    async def one(e: Entity) -> None:
        try:
            async with clock.timeout(timeout):
                await e.poll()
        except TimeoutError:
            e.report_problem(f"poll timed out after {timeout:g} s")
        except Exception as exc:  # a sensor's failure must not stop the round
            e.report_problem(f"poll failed: {type(exc).__name__}: {exc}")

    pollers = [e for e in entities if e._has_poll and e.attached]
    if len(pollers) == 1:
        await one(pollers[0])
    elif pollers:
        async with anyio.create_task_group() as tg:
            for e in pollers:
                tg.start_soon(one, e)


def build_input(
    entity: Entity,
    state: ManagerState,
    events: list[dict[str, Any]],
    now: float,
    history_sensors: Sequence[str] = (),
    cooldowns: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    """The input document of one round (see ``docs/policies.md``)."""
    history: dict[str, Any] = {name: h.records() for name, h in state.histories.items()}
    for name in history_sensors:
        s = entity.find_sensor(name)
        if s is not None:
            history[f"sensors.{name}"] = [{"time": t, "value": v} for t, v in s.history]
    return {
        "now": now,
        "entity": summarize(entity),
        "children": [summarize(c) for c in sorted(entity.children, key=lambda c: c.id)],
        "knowledge": {
            "actions": [a.to_json() for a in state.recent_actions],
            "remembered": state.remembered,
            "history": history,
            "cooldowns": cooldowns or {},
        },
        "events": events,
    }
