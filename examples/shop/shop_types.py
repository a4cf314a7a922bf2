"""The shop's own entity type: a web worker process that reports its request rate.

The blueprint names it ``shop_types:AppWorker`` (modules beside a blueprint are
importable). It is a :class:`~autonomic.entities.process.ProcessEntity` that
also reads the worker's Prometheus metrics at every poll, so the scaling
policy can target requests per second per worker:

- ``requests_total``: the sum of the ``http_requests_total`` samples (all
  methods and statuses) except for the paths in ``ignore_paths`` (the health
  probes and the metrics scrapes are not traffic);
- ``rps``: its rate over the last ``rate_window_s`` seconds (at least one
  second of samples; a counter that goes down, a restarted worker, starts
  afresh). Unknown (stale) while the metrics cannot be read; null while no
  process runs on purpose.

``{python}`` in ``command`` stands for the supervisor's own interpreter, so
the app runs with the packages the supervisor has (psycopg,
prometheus_client), whatever ``python3`` on PATH is.

``failover`` is the config block the ``autonomic.failover`` policy reads.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs
import httpx
from prometheus_client.parser import text_string_to_metric_families

from autonomic.entities.process import ProcessEntity
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor

__all__ = ["AppWorker"]

_PYTHON = "{python}"


def _with_python(config: Any) -> Any:
    """The config (a mapping, or a Config built from the blueprint) with ``{python}`` in the command
    replaced by this interpreter's path."""
    if isinstance(config, Mapping) and isinstance(config.get("command"), list):
        return {**config, "command": [sys.executable if a == _PYTHON else a for a in config["command"]]}
    if isinstance(config, AppWorker.Config):
        return attrs.evolve(config, command=[sys.executable if a == _PYTHON else a for a in config.command])
    return config


class AppWorker(ProcessEntity, type_name="shop-worker"):
    """A worker process of the shop's web tier, with its request rate read from its ``/metrics``."""

    @attrs.frozen(kw_only=True)
    class Config(ProcessEntity.Config):
        """The process settings, where its metrics are, and the failover policy's block."""

        metrics_path: str = "/metrics"
        #: the counter of requests served (its samples are summed over every label but the path)
        request_counter: str = "http_requests_total"
        #: requests to these paths are not traffic
        ignore_paths: list[str] = attrs.field(factory=lambda: ["/health", "/metrics"])
        rate_window_s: float = 5.0
        scrape_timeout_s: float = 1.0
        failover: dict[str, Any] = attrs.field(factory=dict)

    requests_total = Sensor(int, nullable=True, description="requests served (health probes and scrapes excluded)")
    rps = Sensor(float, unit="1/s", nullable=True, description="requests served per second over rate_window_s")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, _with_python(config), depends_on=depends_on)
        self._samples: deque[tuple[float, int]] = deque()
        self._client: httpx.AsyncClient | None = None

    async def poll(self) -> None:
        """Process sensors and health (as a process entity does), then the request counter and rate."""
        await super().poll()
        port = self.port.value
        if not self.alive.value or not isinstance(port, int):
            self._samples.clear()
            if self.lifecycle.expected is Lifecycle.RUNNING:
                self.rps.mark_stale("the process is not running")
                self.requests_total.mark_stale("the process is not running")
            else:
                self.rps.publish(None)
                self.requests_total.publish(None)
            return
        try:
            total = await self._scrape(port)
        except (httpx.HTTPError, ValueError) as exc:
            reason = f"cannot read metrics: {type(exc).__name__}: {exc}"
            self.rps.mark_stale(reason)
            self.requests_total.mark_stale(reason)
            return
        self.requests_total.publish(total)
        self._update_rate(time.monotonic(), total)

    async def _scrape(self, port: int) -> int:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.scrape_timeout_s)
        url = f"http://127.0.0.1:{port}{self.config.metrics_path}"
        response = await self._client.get(url)
        response.raise_for_status()
        name, ignored = self.config.request_counter, set(self.config.ignore_paths)
        total = 0.0
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == name and sample.labels.get("path") not in ignored:
                    total += sample.value
        return int(total)

    def _update_rate(self, now: float, total: int) -> None:
        samples = self._samples
        if samples and total < samples[-1][1]:
            samples.clear()  # the counter went down: a new process
        samples.append((now, total))
        # Keep the newest sample that is at least a window old as the base of the rate.
        while len(samples) > 2 and samples[1][0] <= now - self.config.rate_window_s:
            samples.popleft()
        t0, v0 = samples[0]
        if now - t0 >= 1.0:
            self.rps.publish((total - v0) / (now - t0))

    async def on_stop(self) -> None:
        """Stop the process, and release the metrics client."""
        try:
            await super().on_stop()
        finally:
            client, self._client = self._client, None
            if client is not None:
                await client.aclose()
