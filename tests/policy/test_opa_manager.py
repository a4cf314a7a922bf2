"""A manager end to end on the OPA engine: real clock, real OPA server, an effector invoked and journaled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from autonomic.clock import SystemClock
from autonomic.effector import effector
from autonomic.enrichers import Count
from autonomic.entity import Entity
from autonomic.knowledge.knowledge import Knowledge
from autonomic.knowledge.memory import MemoryStore
from autonomic.knowledge.records import ActionStatus
from autonomic.mape.settings import ManagementSpec, ManagerSettings, PolicyBinding
from autonomic.policy.engine import PolicySet
from autonomic.policy.opa import OPAEngine
from autonomic.policy.opa_server import OPAServer
from autonomic.runtime import Runtime
from autonomic.sensor import Sensor

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

POLICY = """\
package tests.opa_manager

import rego.v1

want := ceil(input.entity.sensors.demand / 10)

decision := {
	"symptoms": [{"name": "wrong_size", "severity": "info", "detail": {"want": want}}],
	"actions": [{
		"target": "self",
		"effector": "resize",
		"args": {"replicas": want},
		"reason": sprintf("demand %v needs %d members", [input.entity.sensors.demand, want]),
	}],
} if want != input.entity.sensors.replicas
"""


class Worker(Entity, type_name="tests.opa_manager.worker"):
    """A member that does nothing but exist."""

    load = Sensor(float, description="share of the demand", nullable=True)


class Pool(Entity, type_name="tests.opa_manager.pool"):
    """A pool of workers sized by its policy."""

    replicas = Sensor(int, enricher=Count(), description="number of workers")
    demand = Sensor(float, description="work offered", nullable=True)

    @effector(timeout=5, idempotent=True, description="set the number of workers")
    async def resize(self, replicas: int) -> None:
        """Add or remove workers until there are ``replicas``."""
        while len(self.children) < replicas:
            worker = self.add_child(Worker(f"w{len(self.children)}"))
            await worker.start()
        while len(self.children) > replicas:
            last = self.children[-1]
            await last.stop()
            self.remove_child(last.name)


async def _until(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    try:
        with anyio.fail_after(seconds):
            while not predicate():
                await anyio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"not within {seconds:g} s: {what}")


@pytest.fixture
async def pool_runtime(opa_server: OPAServer) -> AsyncIterator[tuple[Pool, MemoryStore, OPAEngine, Runtime]]:
    """A pool of 2 managed on the OPA engine (interval 0.2 s), running."""
    clock = SystemClock()
    store = MemoryStore()
    knowledge = Knowledge(store, clock)
    await knowledge.open()
    pool = Pool("pool")
    for i in range(2):
        pool.add_child(Worker(f"w{i}"))
    pool.demand.publish(15.0)  # wants 2: nothing to do until the demand changes
    engine = OPAEngine(PolicySet.from_texts({"tests/opa_manager.rego": POLICY}), opa_server.url, timeout=2.0)
    await engine.open()
    spec = ManagementSpec(
        bindings=(PolicyBinding(package="tests.opa_manager"),),
        settings=ManagerSettings(interval=0.2, min_gap=0.05),
    )
    runtime = Runtime(pool, engine, knowledge, clock, management={"pool": spec}, drain_timeout=5.0)
    try:
        async with runtime.running():
            yield pool, store, engine, runtime
    finally:
        await engine.aclose()
        await knowledge.close()


async def test_manager_on_opa_resizes_and_journals(pool_runtime: tuple[Pool, MemoryStore, OPAEngine, Runtime]) -> None:
    pool, store, engine, _ = pool_runtime
    await _until(lambda: len(store.all_rounds) >= 2, 5, "two rounds")
    assert store.all_actions == []  # demand 15 wants the 2 members there are
    pool.demand.publish(48.0)
    await _until(
        lambda: any(a.status is ActionStatus.OK for a in store.all_actions), 10, "a resize that finished ok"
    )
    await _until(lambda: pool.replicas.value == 5, 5, "five members")
    done = [a for a in store.all_actions if a.status is ActionStatus.OK]
    assert done[0].effector == "resize"
    assert done[0].args == {"replicas": 5}
    assert done[0].target == "pool"
    assert done[0].reason == "demand 48 needs 5 members"
    rounds = store.all_rounds
    assert all(r.error is None for r in rounds), [r.error for r in rounds if r.error]
    assert {r.policy_version for r in rounds} == {engine.version}
    acting = [r for r in rounds if done[0].id in r.actions]
    assert len(acting) == 1
    assert acting[0].decision is not None
    assert acting[0].decision["symptoms"][0]["name"] == "wrong_size"


async def test_manager_journals_an_unreachable_server_and_recovers(opa_binary: Path) -> None:
    clock = SystemClock()
    store = MemoryStore()
    knowledge = Knowledge(store, clock)
    await knowledge.open()
    pool = Pool("pool")
    pool.add_child(Worker("w0"))
    pool.demand.publish(5.0)
    spec = ManagementSpec(
        bindings=(PolicyBinding(package="tests.opa_manager"),),
        settings=ManagerSettings(interval=0.2, min_gap=0.05),
    )
    async with OPAServer(opa_binary) as server:
        engine = OPAEngine(PolicySet.from_texts({"tests/opa_manager.rego": POLICY}), server.url, timeout=1.0)
        runtime = Runtime(pool, engine, knowledge, clock, management={"pool": spec}, drain_timeout=5.0)
        try:
            async with runtime.running():
                await _until(lambda: len(store.all_rounds) >= 2, 5, "two rounds")
                await server.stop()
                pool.demand.publish(28.0)
                await _until(lambda: any(r.error for r in store.all_rounds), 5, "a round with an error")
                failed = next(r for r in store.all_rounds if r.error)
                assert failed.error_kind == "policy"
                assert failed.error is not None
                assert "unreachable" in failed.error
                assert store.all_actions == []  # no decision, nothing done
                # The loop went on; with the server back (empty), the engine pushes the policy again.
                await server.start()
                await _until(lambda: pool.replicas.value == 3, 10, "three members once OPA is back")
                assert [(a.effector, a.args, a.status) for a in store.all_actions] == [
                    ("resize", {"replicas": 3}, ActionStatus.OK)
                ]
        finally:
            await engine.aclose()
            await knowledge.close()
