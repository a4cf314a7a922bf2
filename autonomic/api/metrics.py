"""``GET /metrics``: the supervisor's registry, and exported entity sensors as gauges.

Sensors declared with ``Sensor(..., export=True)`` whose value is a number
(or a bool, as 0/1) are exported as ``autonomic_sensor_value{entity, sensor}``,
read from the tree when Prometheus scrapes; unknown and stale values are left
out rather than reported as zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from autonomic.api.http import Request, Response, TextResponse
from autonomic.api.routing import Route
from autonomic.entity import Entity

__all__ = ["ROUTES", "SensorCollector"]

_NUMERIC = (int, float, bool)


class SensorCollector(Collector):
    """Collects exported numeric sensors of every entity in the tree, on each scrape."""

    def __init__(self, root: Callable[[], Entity]) -> None:
        self._root = root

    def collect(self) -> Iterable[Metric]:
        """One gauge family, a sample per exported sensor with a known value."""
        family = GaugeMetricFamily(
            "autonomic_sensor_value",
            "Entity sensors declared with export=True (unknown and stale values are left out)",
            labels=["entity", "sensor"],
        )
        for entity in self._root().walk():
            exported = [s for s in entity.sensor_specs.values() if s.export and s.kind in _NUMERIC]
            if not exported:
                continue
            entity.refresh()  # enriched aggregates are computed when read
            for spec in exported:
                state = entity.sensor(spec.name)
                value = state.value
                if state.stale or value is None or not isinstance(value, _NUMERIC):
                    continue
                family.add_metric([entity.id, spec.name], float(value))
        yield family


async def metrics(req: Request) -> Response:
    """Prometheus' text format: the supervisor's metrics, then the exported sensors."""
    body = generate_latest(req.ctx.metrics.registry) + generate_latest(req.ctx.sensor_registry)
    return TextResponse(body, CONTENT_TYPE_LATEST)


ROUTES = (
    Route(
        method="GET",
        pattern="/metrics",
        handler=metrics,
        name="metrics",
        summary="Prometheus metrics of the supervisor and exported entity sensors",
    ),
)
