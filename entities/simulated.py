"""In-process simulated services: load that rises and falls, members that fail.

They are ordinary entities (sensors, effectors, lifecycle) whose world is a
small model instead of processes, so a blueprint runs in seconds with no
servers, and deterministically on the virtual clock for a given seed.
"""

from __future__ import annotations

import math
import random

import attrs

from autonomic.effector import effector
from autonomic.enrichers import Aggregate
from autonomic.entities.cluster import ClusterEntity
from autonomic.entity import Entity
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor

__all__ = ["LoadPattern", "SimService", "SimWebCluster"]


class SimService(Entity, type_name="sim-service"):
    """A simulated web server: serves up to ``capacity_rps``; latency grows with utilization."""

    @attrs.frozen(kw_only=True)
    class Config:
        """Capacity, latency model and boot time."""

        capacity_rps: float = 100.0
        base_latency_s: float = 0.02
        boot_s: float = 2.0

    rps = Sensor(float, unit="1/s", description="requests offered per second", nullable=True)
    served_rps = Sensor(float, unit="1/s", description="requests served per second", nullable=True)
    utilization = Sensor(float, unit="1", description="share of capacity in use", nullable=True)
    latency_s = Sensor(float, unit="s", description="mean response time", nullable=True)

    async def on_start(self) -> None:
        """Boot (a delay on the clock), then serve."""
        self.clear_not_up("crashed")
        await self.clock.sleep(self.config.boot_s)

    async def on_stop(self) -> None:
        """Stop serving."""
        self.offer(0.0)

    def offer(self, rps: float) -> None:
        """Offer ``rps`` requests per second; publish what is served and how fast."""
        cap = self.config.capacity_rps
        served = min(rps, cap)
        util = served / cap if cap > 0 else 1.0
        # M/M/1-like growth, capped so overload reads as slow, not infinite.
        latency = self.config.base_latency_s / max(1.0 - min(util, 0.99), 0.01)
        self.rps.publish(rps)
        self.served_rps.publish(served)
        self.utilization.publish(util)
        self.latency_s.publish(latency)

    def crash(self, reason: str = "crashed") -> None:
        """Fail: on fire and not up, until restarted."""
        self.set_not_up("crashed", reason)
        self.set_lifecycle(Lifecycle.ON_FIRE)
        self.offer(0.0)

    @effector(timeout=60, idempotent=True, description="crash the member (fault injection)")
    async def inject_failure(self) -> None:
        """Crash on purpose, to watch the failover policy repair it."""
        self.crash("fault injected")


@attrs.frozen(kw_only=True)
class LoadPattern:
    """Offered load over time: a sine between ``base_rps`` and ``peak_rps`` with noise."""

    base_rps: float = 50.0
    peak_rps: float = 400.0
    period_s: float = 240.0
    noise: float = 0.05

    def at(self, t: float, rng: random.Random) -> float:
        """Requests per second at scenario time ``t``."""
        phase = (1 - math.cos(2 * math.pi * t / self.period_s)) / 2 if self.period_s > 0 else 0.0
        level = self.base_rps + (self.peak_rps - self.base_rps) * phase
        return max(0.0, level * (1 + rng.uniform(-self.noise, self.noise)))


class SimWebCluster(ClusterEntity, type_name="sim-web-cluster"):
    """A cluster of :class:`SimService` members fed by a load pattern, with random failures.

    Every ``tick_s`` the offered load is split evenly over the ready members;
    each running member fails with probability ``failures_per_hour * tick / 3600``.
    """

    @attrs.frozen(kw_only=True)
    class Config(ClusterEntity.Config):
        """Cluster config plus the traffic model."""

        load: LoadPattern = attrs.field(factory=LoadPattern)
        tick_s: float = 1.0
        failures_per_hour: float = 0.0
        seed: int = 0

    demand_rps = Sensor(float, unit="1/s", description="requests offered to the cluster", nullable=True)
    rps_per_member = Sensor(float, unit="1/s", enricher=Aggregate("rps", "mean", members="ready"))
    served_rps = Sensor(float, unit="1/s", enricher=Aggregate("served_rps", "sum"))
    mean_latency_s = Sensor(float, unit="s", enricher=Aggregate("latency_s", "mean", members="ready"))

    async def on_start(self) -> None:
        """Create members and start the traffic model."""
        await super().on_start()
        self.spawn(self._traffic, name="traffic")

    def distribute(self) -> None:
        """Split the current demand over the ready members."""
        demand = self.demand_rps.value or 0.0
        ready = [m for m in self.children if isinstance(m, SimService) and m.ready]
        share = demand / len(ready) if ready else 0.0
        for m in self.children:
            if isinstance(m, SimService) and m.lifecycle.actual is Lifecycle.RUNNING:
                m.offer(share if m.ready else 0.0)

    async def _traffic(self) -> None:
        rng = random.Random(self.config.seed)
        start = self.now()
        tick = self.config.tick_s
        p_fail = self.config.failures_per_hour * tick / 3600.0
        while self.lifecycle.actual not in (Lifecycle.STOPPING, Lifecycle.STOPPED):
            self.demand_rps.publish(self.config.load.at(self.now() - start, rng))
            if p_fail > 0:
                for m in self.children:
                    if isinstance(m, SimService) and m.up and rng.random() < p_fail:
                        m.crash("simulated crash")
            self.distribute()
            await self.clock.sleep(tick)
