"""Core benchmarks (issue 2): decision latency, a 10,500-entity tree, memory per entity.

    python benchmarks/bench_core.py [--clusters 500] [--members 20] [--real-seconds 20]

Prints a Markdown table of figures, each with a baseline measured in the same
run and the ratio to it. Timings are on a shared, noisy machine: read the
ratios, and run twice before believing a change.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import anyio
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autonomic import Aggregate, Count, Entity, ManagementSpec, ManagerSettings, PolicyBinding, Sensor
from autonomic.clock import Clock, SystemClock, VirtualClock
from autonomic.knowledge import Knowledge, MemoryStore
from autonomic.knowledge.knowledge import ManagerState
from autonomic.lifecycle import Lifecycle
from autonomic.mape.monitor import build_input
from autonomic.observability import Metrics
from autonomic.policy import EmbeddedEngine, PolicySet
from autonomic.runtime import Runtime
from benchmarks._common import machine, percentile, table

# A cluster policy of realistic shape: per-member statistics over the children,
# a target-tracking proposal, failed members, one decision per round.
POLICY = """package bench.cluster
import rego.v1

loads := [c.sensors.load | some c in input.children; c.ready; c.sensors.load != null]
mean_load := sum(loads) / count(loads) if count(loads) > 0
replicas := count(input.children)
desired := ceil(replicas * mean_load / input.entity.config.target)
failed contains c.id if { some c in input.children; c.lifecycle == "on_fire" }

decision := {
	"symptoms": [{"name": "member_failed", "severity": "warning", "detail": {"id": id}} | some id in failed],
	"actions": [{"target": "self", "effector": "resize", "args": {"replicas": desired}, "reason": "track"} |
		desired != replicas
		desired > 0
	],
	"remember": {"mean_load": mean_load},
}
"""
EMPTY = "package bench.empty\ndecision := {}\n"


class Member(Entity, type_name="bench-member"):
    load = Sensor(float, history=8)
    latency = Sensor(float, history=8)
    requests = Sensor(float, history=8)


class Cluster(Entity, type_name="bench-cluster"):
    import attrs as _attrs

    @_attrs.frozen(kw_only=True)
    class Config:
        target: float = 50.0

    replicas = Sensor(int, enricher=Count())
    total_load = Sensor(float, enricher=Aggregate("load", "sum"))

    from autonomic import effector as _effector

    @_effector(timeout=10, idempotent=True)
    async def resize(self, replicas: int) -> None:
        """Benchmarks never change the tree size."""


def build_tree(clusters: int, members: int) -> Entity:
    root = Entity("fabric")
    for i in range(clusters):
        c = root.add_child(Cluster(f"c{i}"))
        for j in range(members):
            m = c.add_child(Member(f"m{j}"))
            assert isinstance(m, Member)
            m.set_lifecycle(Lifecycle.RUNNING)
            m.load.publish(50.0)
            m.latency.publish(0.02)
            m.requests.publish(100.0)
        c.set_lifecycle(Lifecycle.RUNNING)
    root.set_lifecycle(Lifecycle.RUNNING)
    return root


def decision_latency(n: int = 2000) -> tuple[float, float, float, float]:
    """p50/p99 (µs) of one cluster decision with 20 children, and of an empty policy on the same input."""
    root = build_tree(1, 20)
    cluster = root.children[0]
    doc = build_input(cluster, ManagerState(), [], 1000.0)
    text = json.dumps(doc, sort_keys=True)
    out = {}
    for name, rego, path in (
        ("policy", POLICY, "data.bench.cluster.decision"),
        ("empty", EMPTY, "data.bench.empty.decision"),
    ):
        engine = EmbeddedEngine(PolicySet.from_texts({f"{name}.rego": rego}))
        for _ in range(200):
            engine.evaluate_sync(path, input_json=text)
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            engine.evaluate_sync(path, input_json=text)
            samples.append((time.perf_counter() - t0) * 1e6)
        out[name] = (percentile(samples, 50), percentile(samples, 99))
    return (*out["policy"], *out["empty"])


async def run_tree(
    clock: Clock, clusters: int, members: int, seconds: float, package: str, rego: str, *, offload: bool = True
) -> dict[str, float]:
    root = build_tree(clusters, members)
    engine = EmbeddedEngine(
        PolicySet.from_texts({"p.rego": rego}), offload=offload and not clock.is_virtual, clock=clock
    )
    knowledge = Knowledge(MemoryStore(max_rounds=10_000, max_actions=10_000), clock)
    await knowledge.open()
    spec = ManagementSpec(
        bindings=(PolicyBinding(package=package),), settings=ManagerSettings(interval=1.0, min_gap=0.5)
    )
    metrics = Metrics()
    rt = Runtime(
        root,
        engine,
        knowledge,
        clock,
        management={c.id: spec for c in root.children},
        metrics=metrics,
        start_entities=False,
    )
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    async with rt.running():
        if isinstance(clock, VirtualClock):
            await clock.run(seconds)
        else:
            await anyio.sleep(seconds)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        rounds = sum(m.rounds_run for m in rt.managers.values())
        lags = [x for m in rt.managers.values() for x in m.lag_samples]
    p99 = percentile(lags, 99)
    return {"cpu_s": cpu, "wall_s": wall, "rounds": rounds, "lag_p99_s": p99, "cpu_per_sim_s": cpu / seconds}


def memory_per_entity(count: int = 10_000) -> tuple[float, float]:
    """Bytes per member entity (3 sensors, history 8), and per bare Entity (the baseline)."""
    out = []
    for make in (lambda i: Member(f"m{i}"), lambda i: Entity(f"e{i}")):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        parent = Entity("p")
        for i in range(count):
            e = parent.add_child(make(i))
            if isinstance(e, Member):
                for t in range(8):  # fill the histories
                    e.load.publish(1.0, time=float(t))
                    e.latency.publish(0.1, time=float(t))
                    e.requests.publish(2.0, time=float(t))
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        out.append(used / count)
        del parent
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clusters", type=int, default=500)
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--sim-seconds", type=float, default=60)
    ap.add_argument("--real-seconds", type=float, default=20)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    n_entities = 1 + args.clusters * (1 + args.members)
    print(f"# autonomic core benchmarks\n\nmachine: {machine()}\n")

    p50, p99, e50, e99 = decision_latency()
    rows = [
        ("decision latency p50, 20 children (µs)", f"{p50:.0f}", f"empty policy {e50:.0f}", f"{p50 / e50:.1f}x"),
        ("decision latency p99, 20 children (µs)", f"{p99:.0f}", f"empty policy {e99:.0f}", f"{p99 / e99:.1f}x"),
    ]
    virt = anyio.run(run_tree, VirtualClock(), args.clusters, args.members, args.sim_seconds, "bench.cluster", POLICY)
    base = anyio.run(run_tree, VirtualClock(), args.clusters, args.members, args.sim_seconds, "bench.empty", EMPTY)
    rows.append(
        (
            f"CPU s per simulated s, {n_entities:,} entities, 1 s rounds (virtual clock)",
            f"{virt['cpu_per_sim_s']:.3f}",
            f"empty policy {base['cpu_per_sim_s']:.3f}",
            f"{virt['cpu_per_sim_s'] / base['cpu_per_sim_s']:.2f}x",
        )
    )
    rows.append(
        (
            "rounds per simulated s (virtual clock)",
            f"{virt['rounds'] / args.sim_seconds:.0f}",
            f"managers {args.clusters}",
            f"{virt['rounds'] / args.sim_seconds / args.clusters:.2f}",
        )
    )
    real = anyio.run(run_tree, SystemClock(), args.clusters, args.members, args.real_seconds, "bench.cluster", POLICY)
    rows.append(
        (
            f"loop lag p99, {n_entities:,} entities, real clock (ms)",
            f"{real['lag_p99_s'] * 1000:.0f}",
            "round interval 1000",
            f"{real['lag_p99_s']:.3f}",
        )
    )
    rows.append(
        (
            "CPU share on the real clock (CPU s / wall s)",
            f"{real['cpu_s'] / real['wall_s']:.2f}",
            "2 cores",
            f"{real['cpu_s'] / real['wall_s'] / 2:.2f}",
        )
    )
    member_b, bare_b = memory_per_entity()
    rows.append(
        (
            "memory per member entity, 3 sensors x 8 points (bytes)",
            f"{member_b:.0f}",
            f"bare Entity {bare_b:.0f}",
            f"{member_b / bare_b:.2f}x",
        )
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(
        (
            "peak RSS of this benchmark process (MiB)",
            f"{rss_mb:.0f}",
            f"{n_entities:,} entities",
            f"{rss_mb * 1024 * 1024 / n_entities:.0f} B/entity",
        )
    )
    print(table(rows))


if __name__ == "__main__":
    main()
