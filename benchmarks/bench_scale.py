"""Supervisor scale, reaction time and start-up (issue 6).

    python benchmarks/bench_scale.py [--sizes 1000,10000,50000] [--sim-seconds 10] [--real-seconds 10]

For each tree size (clusters of 20 members, one manager per cluster, 1 s
rounds): CPU seconds per simulated second on the virtual clock, loop lag p99
on the real clock, memory per entity, and how each grows with the count.
Reaction: a watched sensor crossing its threshold to the effector being
invoked, on the real clock. Start-up: `autonomic run` to its first completed round.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import anyio
import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autonomic import Entity, ManagementSpec, ManagerSettings, PolicyBinding, Sensor, Triggers, effector
from autonomic.clock import SystemClock, VirtualClock
from autonomic.knowledge import Knowledge, MemoryStore
from autonomic.mape.settings import Threshold
from autonomic.policy import EmbeddedEngine, PolicySet
from autonomic.runtime import Runtime
from benchmarks._common import machine, percentile, table
from benchmarks.bench_core import POLICY, build_tree, run_tree


def tree_memory(clusters: int, members: int) -> float:
    """Bytes per entity of a built tree with managers' knowledge graph (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    root = build_tree(clusters, members)
    from autonomic.knowledge.graph import EntityGraph

    graph = EntityGraph()
    for e in root.walk():
        graph.add(e.id, e.type_name, e.parent.id if e.parent else None)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    n = sum(1 for _ in root.walk())
    del root, graph
    return used / n


class Thermo(Entity, type_name="bench-thermo"):
    temp = Sensor(float)
    hits: list[float]

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.hits = []

    @effector(timeout=5, idempotent=True)
    async def cool(self, at: float) -> None:
        self.hits.append(time.perf_counter())


REACT = """package bench.react
import rego.v1
decision := {"actions": [{"target": "self", "effector": "cool", "args": {"at": input.entity.sensors.temp}}]} if {
	input.entity.sensors.temp > 50
}
"""


async def reaction(samples: int = 100) -> tuple[float, float]:
    """p50/p99 (ms) from a watched sensor crossing its threshold to the effector running."""
    clock = SystemClock()
    e = Thermo("thermo")
    kn = Knowledge(MemoryStore(), clock)
    await kn.open()
    spec = ManagementSpec(
        bindings=(PolicyBinding(package="bench.react"),),
        settings=ManagerSettings(
            interval=3600,
            min_gap=0.0,
            start_spread=0,
            triggers=Triggers(thresholds=(Threshold(sensor="temp", above=50),), lifecycle=False),
        ),
    )
    engine = EmbeddedEngine(PolicySet.from_texts({"r.rego": REACT}), offload=True, clock=clock)
    rt = Runtime(e, engine, kn, clock, management={"thermo": spec})
    delays = []
    async with rt.running():
        await anyio.sleep(0.3)
        for i in range(samples):
            e.temp.publish(20.0)
            await anyio.sleep(0.02)
            n = len(e.hits)
            t0 = time.perf_counter()
            e.temp.publish(60.0 + i * 1e-3)
            with anyio.fail_after(5):
                while len(e.hits) == n:
                    await anyio.sleep(0.0005)
            delays.append((e.hits[-1] - t0) * 1000)
    return percentile(delays, 50), percentile(delays, 99)


def startup(runs: int = 3) -> tuple[float, float]:
    """Median seconds from `autonomic run` to its first completed round, and to `import autonomic.cli`."""
    blueprint = ROOT / "examples" / "simulated" / "blueprint.yaml"
    firsts, imports = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import autonomic.cli"], check=True, cwd=ROOT)
        imports.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autonomic",
                "run",
                str(blueprint),
                "--store",
                "memory",
                "--log-format",
                "json",
                "--no-view",
            ],
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        ) as proc:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith("{") and json.loads(line).get("event") == "round":
                    firsts.append(time.perf_counter() - t0)
                    break
            proc.terminate()
            proc.wait(timeout=30)
    return sorted(firsts)[len(firsts) // 2], sorted(imports)[len(imports) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,10000,50000", help="entity counts (clusters of 20)")
    ap.add_argument("--sim-seconds", type=float, default=10)
    ap.add_argument("--real-seconds", type=float, default=10)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    print(f"# autonomic scale benchmarks\n\nmachine: {machine()}\n")
    rows = []
    base: dict[str, float] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        clusters = max(1, size // 21)
        n = 1 + clusters * 21
        virt = anyio.run(run_tree, VirtualClock(), clusters, 20, args.sim_seconds, "bench.cluster", POLICY)
        real = anyio.run(run_tree, SystemClock(), clusters, 20, args.real_seconds, "bench.cluster", POLICY)
        inline = anyio.run(
            functools.partial(run_tree, offload=False),
            SystemClock(),
            clusters,
            20,
            args.real_seconds,
            "bench.cluster",
            POLICY,
        )
        mem = tree_memory(clusters, 20)
        cpu_per_entity = virt["cpu_per_sim_s"] / n
        if not base:
            base = {"cpu": cpu_per_entity, "mem": mem, "n": n}
        rows.append(
            (
                f"CPU s per simulated s, {n:,} entities",
                f"{virt['cpu_per_sim_s']:.3f}",
                f"per entity vs {base['n']:,}",
                f"{cpu_per_entity / base['cpu']:.2f}x",
            )
        )
        rows.append(
            (
                f"loop lag p99 (real clock), {n:,} entities (ms)",
                f"{real['lag_p99_s'] * 1000:.0f}",
                "round interval 1000",
                f"{real['lag_p99_s']:.3f}",
            )
        )
        rows.append(
            (
                f"rounds done per s (real clock), {n:,} entities",
                f"{real['rounds'] / real['wall_s']:.0f}",
                f"due {clusters:,}",
                f"{real['rounds'] / real['wall_s'] / clusters:.2f}",
            )
        )
        rows.append(
            (
                f"loop lag p99, inline evaluation, {n:,} entities (ms)",
                f"{inline['lag_p99_s'] * 1000:.0f}",
                f"offloaded {real['lag_p99_s'] * 1000:.0f}",
                f"{inline['lag_p99_s'] / max(real['lag_p99_s'], 1e-9):.2f}x",
            )
        )
        rows.append(
            (
                f"rounds done per s, inline evaluation, {n:,} entities",
                f"{inline['rounds'] / inline['wall_s']:.0f}",
                f"offloaded {real['rounds'] / real['wall_s']:.0f}",
                f"{inline['rounds'] / inline['wall_s'] / max(real['rounds'] / real['wall_s'], 1e-9):.2f}x",
            )
        )
        rows.append(
            (
                f"memory per entity, {n:,} entities (bytes)",
                f"{mem:.0f}",
                f"vs {base['n']:,}",
                f"{mem / base['mem']:.2f}x",
            )
        )
    p50, p99 = anyio.run(reaction)
    rows.append(
        (
            "reaction p50: threshold crossed to effector invoked (ms)",
            f"{p50:.1f}",
            "round interval 3600000",
            f"{p50 / 3_600_000:.1e}",
        )
    )
    rows.append(("reaction p99 (ms)", f"{p99:.1f}", "", ""))
    first, imp = startup()
    rows.append(
        (
            "start-up: `autonomic run` to first round (s)",
            f"{first:.2f}",
            f"import only {imp:.2f}",
            f"{first / imp:.1f}x",
        )
    )
    rows.append(
        ("peak RSS of this process (MiB)", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}", "", "")
    )
    print(table(rows))


if __name__ == "__main__":
    main()
