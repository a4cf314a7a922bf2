"""Enrichers derive a sensor from others without deciding anything.

Attach one to a sensor declaration::

    class WebCluster(Entity):
        total_rps = Sensor(float, enricher=Aggregate("rps", "sum"))
        members_up = Sensor(bool, enricher=QuorumUp("majority"))
        rps = Sensor(float, enricher=Rate("requests_total"))
        rps_1m = Sensor(float, enricher=Rolling("rps", window_s=60, fn="mean"))

Aggregates over children (:class:`Aggregate`, :class:`Count`,
:class:`QuorumUp`) are recomputed lazily: a child's change marks the parent
dirty, and the value is computed when next read (by the monitor, the API).
Enrichers of an entity's own sensors (:class:`Rate`, :class:`Rolling`) run
when their source is published.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from autonomic.entity import Entity

__all__ = ["Aggregate", "ChildEnricher", "Count", "Enricher", "QuorumUp", "Rate", "Rolling", "SelfEnricher"]

Members = Literal["all", "up", "ready", "running"]


def _selected(children: Sequence[Entity], members: Members) -> list[Entity]:
    if members == "all":
        return list(children)
    if members == "up":
        return [c for c in children if c.up]
    if members == "ready":
        return [c for c in children if c.ready]
    return [c for c in children if c.lifecycle.actual == "running"]


class ChildEnricher:
    """Base of enrichers computed from the children of the entity."""

    #: the child sensor whose changes make the value dirty (None: lifecycle and up only)
    source: str | None = None

    def compute(self, children: Sequence[Entity]) -> Any:
        """The derived value for these children."""
        raise NotImplementedError


class SelfEnricher:
    """Base of enrichers fed by another sensor of the same entity."""

    source: str

    def new_state(self) -> Any:
        """Per-entity state for this enricher."""
        return None

    def update(self, state: Any, time: float, value: Any) -> tuple[Any, Any]:
        """Fold in a new source point; return ``(new state, derived value or None)``."""
        raise NotImplementedError


Enricher = ChildEnricher | SelfEnricher


@attrs.frozen
class Aggregate(ChildEnricher):
    """``sum``, ``mean``, ``min``, ``max`` or ``count`` of a sensor over the children.

    Children with no value (``None``) are left out; ``members`` narrows the
    children to those ``up``, ``ready`` or ``running``. The sum and count of
    no values are 0; the mean, min and max of no values are unknown (None).
    """

    source: str
    fn: Literal["sum", "mean", "min", "max", "count"] = "sum"
    members: Members = "all"

    def compute(self, children: Sequence[Entity]) -> Any:
        """Aggregate the children's current values."""
        values = []
        for c in _selected(children, self.members):
            state = c.find_sensor(self.source)
            if state is not None and state.value is not None and not state.stale:
                values.append(state.value)
        if self.fn == "count":
            return len(values)
        if self.fn == "sum":
            return math.fsum(values) if values else 0.0
        if not values:
            return None
        if self.fn == "mean":
            return math.fsum(values) / len(values)
        return min(values) if self.fn == "min" else max(values)


@attrs.frozen
class Count(ChildEnricher):
    """How many children there are (``all``), or how many are ``up``, ``ready`` or ``running``."""

    members: Members = "all"

    def compute(self, children: Sequence[Entity]) -> Any:
        """Count the selected children."""
        return len(_selected(children, self.members))


@attrs.frozen
class QuorumUp(ChildEnricher):
    """Whether a quorum of children is up: ``all``, ``any``, ``majority``, a count, or a share in (0, 1).

    With no children the quorum holds only when ``empty_is_up``.
    """

    quorum: Literal["all", "any", "majority"] | int | float = "all"
    empty_is_up: bool = False

    def compute(self, children: Sequence[Entity]) -> Any:
        """Apply the quorum to the children's up flags."""
        n = len(children)
        if n == 0:
            return self.empty_is_up
        up = sum(1 for c in children if c.up)
        q = self.quorum
        if q == "all":
            return up == n
        if q == "any":
            return up >= 1
        if q == "majority":
            return up * 2 > n
        if isinstance(q, float) and 0 < q < 1:
            return up >= math.ceil(q * n)
        return up >= int(q)


@attrs.frozen
class Rate(SelfEnricher):
    """The rate of change per ``per`` seconds of a counter sensor of the same entity.

    A counter that goes down (a restart) yields no value for that step.
    """

    source: str
    per: float = 1.0

    def update(self, state: Any, time: float, value: Any) -> tuple[Any, Any]:
        """Difference quotient against the previous point."""
        if value is None:
            return None, None
        if state is None:
            return (time, value), None
        t0, v0 = state
        if time <= t0 or value < v0:
            return (time, value), None
        return (time, value), (value - v0) / (time - t0) * self.per


@attrs.frozen
class Rolling(SelfEnricher):
    """``mean``, ``min``, ``max`` or ``sum`` of a sensor of the same entity over the last ``window_s`` seconds."""

    source: str
    window_s: float
    fn: Literal["mean", "min", "max", "sum"] = "mean"

    def new_state(self) -> Any:
        """A deque of ``(time, value)`` points."""
        return deque()

    def update(self, state: Any, time: float, value: Any) -> tuple[Any, Any]:
        """Add the point, drop those out of the window, fold the rest."""
        points: deque[tuple[float, float]] = state
        if value is not None:
            points.append((time, value))
        while points and points[0][0] < time - self.window_s:
            points.popleft()
        if not points:
            return points, None
        vals = [v for _, v in points]
        if self.fn == "mean":
            return points, math.fsum(vals) / len(vals)
        if self.fn == "sum":
            return points, math.fsum(vals)
        return points, (min(vals) if self.fn == "min" else max(vals))
