"""Sensors: named, typed, time-stamped values an entity publishes.

A sensor is declared on the entity class::

    class Worker(Entity):
        rps = Sensor(float, unit="1/s", description="requests served per second")

and published on the instance: ``self.rps.publish(12.5)``. Values are checked
against the declared type; NaN, infinities, wrong types and ``None`` for a
sensor that is not ``nullable`` are rejected: the value becomes unknown
(``null`` to policies) and the problem is reported to the entity's manager,
which journals it. Publishing never raises into the publisher.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import attrs

from autonomic.knowledge.history import SensorHistory

if TYPE_CHECKING:
    from autonomic.enrichers import Enricher
    from autonomic.entity import Entity

__all__ = ["Sensor", "SensorState", "check_sensor_value"]

T = TypeVar("T")

_NUMERIC = (int, float, bool)


def check_sensor_value(kind: type[Any], value: Any, *, nullable: bool) -> tuple[Any, str | None]:
    """Return ``(accepted value, problem)``; on a problem the value is ``None``."""
    if value is None:
        return None, None if nullable else "no value (None) for a sensor that is not nullable"
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"expected a number, got {type(value).__name__} {value!r:.60}"
        if not math.isfinite(value):
            return None, f"rejected non-finite value {value!r}"
        return float(value), None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"expected an integer, got {type(value).__name__} {value!r:.60}"
        if isinstance(value, float):
            if not math.isfinite(value):
                return None, f"rejected non-finite value {value!r}"
            if not value.is_integer():
                return None, f"expected an integer, got {value!r}"
            return int(value), None
        return value, None
    if kind is bool:
        if not isinstance(value, bool):
            return None, f"expected a bool, got {type(value).__name__} {value!r:.60}"
        return value, None
    if kind is str:
        if not isinstance(value, str):
            return None, f"expected a string, got {type(value).__name__} {value!r:.60}"
        return value, None
    if kind in (dict, list):
        if not isinstance(value, kind):
            return None, f"expected {kind.__name__}, got {type(value).__name__}"
        problem = _json_problem(value)
        return (None, problem) if problem else (value, None)
    return value, _json_problem(value)


def _json_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` cannot cross into Rego as JSON, or None."""
    if depth > 32:
        return "value nested too deeply"
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"rejected non-finite value {value!r} inside a structure"
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"object keys must be strings, got {k!r}"
            p = _json_problem(v, depth + 1)
            if p:
                return p
        return None
    if isinstance(value, (list, tuple)):
        for v in value:
            p = _json_problem(v, depth + 1)
            if p:
                return p
        return None
    return f"{type(value).__name__} is not JSON"


@attrs.frozen(kw_only=True)
class SensorSpec:
    """What a sensor declaration says, shared by every instance of the class."""

    name: str
    kind: type[Any]
    unit: str = ""
    description: str = ""
    history: int = 16
    nullable: bool = False
    export: bool = False
    enricher: Enricher | None = None


class Sensor(Generic[T]):
    """A sensor declaration (a descriptor); on an instance it gives the :class:`SensorState`.

    ``kind`` is ``float``, ``int``, ``bool``, ``str``, ``dict`` or ``list``.
    ``history`` is how many points Knowledge keeps; ``nullable`` allows ``None``
    (unknown) without reporting a problem; ``export`` makes the supervisor
    export it as a Prometheus gauge; ``enricher`` derives the value from
    children's or this entity's other sensors (see :mod:`autonomic.enrichers`).
    """

    def __init__(
        self,
        kind: type[T],
        *,
        unit: str = "",
        description: str = "",
        history: int = 16,
        nullable: bool = False,
        export: bool = False,
        enricher: Enricher | None = None,
    ) -> None:
        self.kind = kind
        self.unit = unit
        self.description = description
        self.history = history
        self.nullable = nullable or enricher is not None
        self.export = export
        self.enricher = enricher
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @property
    def spec(self) -> SensorSpec:
        """This declaration as a value."""
        return SensorSpec(
            name=self.name,
            kind=self.kind,
            unit=self.unit,
            description=self.description,
            history=self.history,
            nullable=self.nullable,
            export=self.export,
            enricher=self.enricher,
        )

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Sensor[T]: ...
    @overload
    def __get__(self, instance: Entity, owner: type[Any]) -> SensorState: ...
    def __get__(self, instance: Entity | None, owner: type[Any]) -> Sensor[T] | SensorState:
        if instance is None:
            return self
        return instance.sensor(self.name)


class SensorState:
    """One sensor of one entity: its current value, time and history."""

    __slots__ = ("entity", "history", "problem", "spec", "stale", "time", "value")

    def __init__(self, spec: SensorSpec, entity: Entity) -> None:
        self.spec = spec
        self.entity = entity
        self.value: Any = None
        self.time: float | None = None
        self.history = SensorHistory(spec.history, numeric=spec.kind in _NUMERIC)
        self.problem: str | None = None
        self.stale = False

    @property
    def name(self) -> str:
        """The sensor's name."""
        return self.spec.name

    def publish(self, value: Any, *, time: float | None = None) -> None:
        """Set the value (checked against the declared type) at ``time`` (default: now)."""
        self.entity._publish(self, value, time)

    def mark_stale(self, reason: str) -> None:
        """Say the value can no longer be trusted (its source is unreachable, say).

        A stale sensor reads as ``null`` to policies until the next publish;
        it is never silently replaced by zero.
        """
        self.entity._mark_stale(self, reason)

    def __repr__(self) -> str:
        return f"<SensorState {self.entity.id}.{self.name}={self.value!r} @ {self.time}>"
