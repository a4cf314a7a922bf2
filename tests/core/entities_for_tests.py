"""Small entities the core tests share."""

from __future__ import annotations

import anyio
import attrs

from autonomic import Aggregate, Count, Entity, Sensor, effector
from autonomic.errors import PermanentEffectorError


class Member(Entity, type_name="test-member"):
    """A member carrying load."""

    load = Sensor(float)


class Cluster(Entity, type_name="test-cluster"):
    """A cluster whose demand is spread over its members; resize adds or removes members."""

    @attrs.frozen(kw_only=True)
    class Config:
        target: float = 10.0
        resize_delay_s: float = 1.0

    replicas = Sensor(int, enricher=Count())
    total_load = Sensor(float, enricher=Aggregate("load", "sum"))
    mean_load = Sensor(float, enricher=Aggregate("load", "mean"))
    demand = Sensor(float, nullable=True)
    calls: list[str]

    def __init__(self, name: str, config: object = None, **kw: object) -> None:
        super().__init__(name, config)
        self.calls = []
        self._n = 0

    def spread(self) -> None:
        members = self.children
        for m in members:
            assert isinstance(m, Member)
            m.load.publish((self.demand.value or 0.0) / len(members))

    def set_demand(self, value: float) -> None:
        self.demand.publish(value)
        self.spread()

    @effector(timeout=30, idempotent=True)
    async def resize(self, replicas: int) -> None:
        self.calls.append(f"resize({replicas})")
        await self.clock.sleep(self.config.resize_delay_s)
        while len(self.children) < replicas:
            self._n += 1
            m = self.add_child(Member(f"m{self._n}"))
            await m.start()
        while len(self.children) > replicas:
            c = self.children[-1]
            await c.stop()
            self.remove_child(c.name)
        self.spread()

    @effector(timeout=2, idempotent=False)
    async def hang(self) -> None:
        self.calls.append("hang")
        await anyio.sleep_forever()

    @effector(timeout=5, idempotent=False)
    async def explode(self, why: str = "boom") -> None:
        self.calls.append("explode")
        raise PermanentEffectorError(why)

    @effector(timeout=5, idempotent=True, cooldown=30)
    async def nudge(self, amount: float, note: str | None = None) -> str:
        self.calls.append(f"nudge({amount})")
        return f"nudged {amount}"


def cluster_with(n: int, **config: object) -> Cluster:
    c = Cluster("c", config)
    for i in range(n):
        c.add_child(Member(f"seed{i}"))
    return c
