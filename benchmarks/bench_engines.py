"""The same decision on the embedded engine and on a real OPA server: latency per evaluation.

Evaluates ``data.autonomic.scaling.decision`` (the library's HPA policy, when
``policies/scaling.rego`` is there; else a small scaling policy included
below) on a cluster input with 20 members, ``--n`` times per engine after
``--warmup`` evaluations, through each engine's async ``evaluate`` as a
manager calls it. Prints p50 and p99 in microseconds and the OPA/embedded
ratio. Starts (and stops) its own OPA server.

    python benchmarks/bench_engines.py [--n 500] [--warmup 50] [--small]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import anyio

from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.engine import UNDEFINED, PolicyEngine, PolicySet, library_path
from autonomic.policy.opa import OPAEngine
from autonomic.policy.opa_server import OPAServer

NOW = 1_700_000_600.0
MEMBERS = 20

#: used when the library has no autonomic.scaling: HPA's utilization rule, reduced. The reason prints a
#: whole number: the engines may print floats differently (89.49999999999999 against 89.5).
FALLBACK_POLICY = """\
package autonomic.scaling

import rego.v1

cfg := input.entity.config.scaling

ready := [c | some c in input.children; c.ready; c.lifecycle == "running"]

utilization := 100 * sum([c.sensors.cpu | some c in ready]) / sum([c.sensors.cpu_request | some c in ready])

ratio := utilization / cfg.metrics[0].target.averageUtilization

want := min([cfg.max_replicas, max([cfg.min_replicas, ceil(ratio * count(ready))])])

desired := input.entity.sensors.replicas if {
	abs(ratio - 1) <= 0.1
} else := want

decision := {
	"symptoms": [],
	"actions": [a | desired != input.entity.sensors.replicas; a := action],
	"desired_replicas": desired,
	"recommendation": want,
}

action := {
	"target": "self",
	"effector": "resize",
	"args": {"replicas": desired},
	"reason": sprintf("utilization %s%% against %v%%", [format_int(round(utilization), 10), cfg.metrics[0].target.averageUtilization]),
}
"""


def scaling_input(members: int = MEMBERS) -> dict[str, Any]:
    """A cluster of ``members`` pods near 90% of their CPU request against a 60% target (docs/policies.md).

    CPU is in millicores, whole numbers: the engines' float arithmetic then agrees to the last digit.
    """
    cluster = "shop/eu-west/api"

    def summary(eid: str, etype: str, sensors: dict[str, Any], config: dict[str, Any], effectors: list[str]) -> Any:
        return {
            "id": eid,
            "name": eid.rsplit("/", 1)[-1],
            "type": etype,
            "config": config,
            "lifecycle": "running",
            "expected": "running",
            "lifecycle_since": NOW - 3600,
            "up": True,
            "not_up_reasons": {},
            "ready": True,
            "sensors": sensors,
            "sensor_times": dict.fromkeys(sensors, NOW - 5),
            "effectors": effectors,
        }

    scaling = {
        "min_replicas": 2,
        "max_replicas": 50,
        "metrics": [
            {
                "sensor": "cpu",
                "source": "members",
                "target": {"type": "Utilization", "averageUtilization": 60},
                "request_sensor": "cpu_request",
            }
        ],
    }
    children = [
        summary(
            f"{cluster}/pod-{i:02d}",
            "web-server",
            {"cpu": 400 + 5 * i, "cpu_request": 500},
            {},
            ["restart", "start", "stop"],
        )
        for i in range(members)
    ]
    return {
        "now": NOW,
        "entity": summary(
            cluster,
            "web-cluster",
            {"replicas": members},
            {"scaling": scaling},
            ["replace_member", "resize", "restart", "start", "stop"],
        ),
        "children": children,
        "knowledge": {
            "actions": [],
            "remembered": {},
            "history": {"recommendations": [{"replicas": members, "time": NOW - 60 * k} for k in range(5, 0, -1)]},
            "cooldowns": {},
        },
        "events": [],
    }


def policies(small: bool = False) -> tuple[PolicySet, str]:
    """The library's scaling policy if present (and not ``small``), else the fallback; and where it came from."""
    lib = library_path()
    if not small and (lib / "scaling.rego").is_file():
        return PolicySet.from_paths([lib]), f"library ({lib / 'scaling.rego'})"
    return PolicySet.from_texts({"bench/scaling.rego": FALLBACK_POLICY}), "fallback policy in this script"


async def measure(engine: PolicyEngine, path: str, input_json: str, n: int, warmup: int) -> tuple[list[float], Any]:
    """``n`` timed evaluations (seconds each) after ``warmup`` untimed ones; and the last value."""
    value: Any = UNDEFINED
    for _ in range(warmup):
        value = await engine.evaluate(path, input_json)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        value = await engine.evaluate(path, input_json)
        times.append(time.perf_counter() - t0)
    return times, value


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def row(name: str, times: list[float]) -> tuple[str, float, float, float]:
    """Name, p50, p99 and mean in microseconds."""
    return name, percentile(times, 0.50) * 1e6, percentile(times, 0.99) * 1e6, statistics.fmean(times) * 1e6


async def main(n: int, warmup: int, small: bool = False) -> int:
    """Run the benchmark; 1 when the engines disagree."""
    path = "data.autonomic.scaling.decision"
    pset, origin = policies(small)
    input_json = json.dumps(scaling_input(), sort_keys=True, separators=(",", ":"))
    print(f"decision: {path} from the {origin}")
    print(f"input: {MEMBERS} members, {len(input_json)} bytes of JSON; {n} evaluations per engine after {warmup}")

    inline = EmbeddedEngine(pset)
    offload = EmbeddedEngine(pset, offload=True)
    t_inline, v_embedded = await measure(inline, path, input_json, n, warmup)
    t_offload, _ = await measure(offload, path, input_json, n, warmup)
    async with OPAServer() as server, OPAEngine(pset, server.url) as opa:
        t_opa, v_opa = await measure(opa, path, input_json, n, warmup)

    rows = [
        row("embedded (inline)", t_inline),
        row("embedded (thread offload)", t_offload),
        row("opa (HTTP, loopback)", t_opa),
    ]
    print(f"{'engine':<28}{'p50 µs':>12}{'p99 µs':>12}{'mean µs':>12}")
    for name, p50, p99, mean in rows:
        print(f"{name:<28}{p50:>12.1f}{p99:>12.1f}{mean:>12.1f}")
    base, opa_row = rows[0], rows[2]
    print(f"ratio opa/embedded (inline): p50 {opa_row[1] / base[1]:.1f}x, p99 {opa_row[2] / base[2]:.1f}x")
    actions = v_opa.get("actions") if isinstance(v_opa, dict) else None
    print(f"decision: actions={json.dumps(actions)}")
    if v_opa != v_embedded:
        print("the engines DISAGREE on this decision:")
        print(f"  opa:      {json.dumps(v_opa, sort_keys=True)}")
        print(f"  embedded: {json.dumps(v_embedded, sort_keys=True)}")
        return 1
    print("both engines gave the same decision")
    return 0


def cli() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=500, help="timed evaluations per engine (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed evaluations first (default 50)")
    parser.add_argument(
        "--small", action="store_true", help="use the small fallback policy even when the library has autonomic.scaling"
    )
    args = parser.parse_args()
    raise SystemExit(anyio.run(main, args.n, args.warmup, args.small))


if __name__ == "__main__":
    cli()
