"""The simulation run: a blueprint's real managers and policies, on the virtual clock, against a trace.

Everything is the production code path (the blueprint's tree, the
:class:`~autonomic.runtime.Runtime` with its managers and executor, the
embedded Rego engine evaluating inline) except time, which is a
:class:`~autonomic.clock.VirtualClock`, and Knowledge, which is kept in a
:class:`~autonomic.knowledge.memory.MemoryStore`. Time jumps from one
instant something can happen to the next, so a run is as fast as the request
model and the policies, and deterministic for a given seed.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import attrs

from autonomic.blueprint.load import Blueprint, load_blueprint
from autonomic.clock import VirtualClock
from autonomic.entities.swim import SimWebService
from autonomic.errors import AutonomicError
from autonomic.knowledge.knowledge import Knowledge
from autonomic.knowledge.memory import MemoryStore
from autonomic.runtime import Runtime
from autonomic.simulate.summary import RunInfo, Summary, summarize
from autonomic.simulate.trace import Trace, load_trace
from autonomic.supervisor import make_engine

__all__ = ["SimulationError", "SimulationRun", "inject", "run_simulation", "simulate", "write_outputs"]


class SimulationError(AutonomicError):
    """The blueprint cannot be simulated (no simulated service in it, say)."""


@attrs.define(eq=False)
class SimulationRun:
    """A finished run: its summary, the services as they ended, and the journal."""

    summary: Summary
    services: list[SimWebService]
    store: MemoryStore
    trace: Trace


def _is_service(bp: Blueprint, node: Mapping[str, Any]) -> bool:
    type_name = node.get("type")
    if not isinstance(type_name, str):
        return False
    try:
        cls = bp.types.resolve(type_name)
    except LookupError:
        return False
    return issubclass(cls, SimWebService)


def inject(bp: Blueprint, *, seed: int, trace: str) -> tuple[Blueprint, int]:
    """The blueprint with ``seed`` and ``trace`` set in the config of every simulated service.

    Returns it and how many services there are.
    """
    root = copy.deepcopy(bp.root_spec)
    found = 0

    def visit(node: Any) -> None:
        nonlocal found
        if not isinstance(node, dict):
            return
        if _is_service(bp, node):
            config = node.get("config") or {}
            node["config"] = {**config, "seed": seed, "trace": trace}
            found += 1
        for child in node.get("children") or []:
            visit(child)

    visit(root)
    return attrs.evolve(bp, root_spec=root), found


async def simulate(
    bp: Blueprint,
    trace: Trace,
    *,
    trace_label: str,
    seed: int = 0,
    duration_s: float | None = None,
) -> SimulationRun:
    """Run ``bp`` against ``trace`` on a virtual clock for ``duration_s`` (default: the trace's length)."""
    bp, found = inject(bp, seed=seed, trace=trace_label)
    if not found:
        raise SimulationError(
            f"{bp.file}: no simulated service (type sim-web-service, autonomic.entities.swim:SimWebService) to drive"
        )
    duration = duration_s if duration_s is not None else math.ceil(trace.duration_s)
    if not (duration > 0 and math.isfinite(duration)):
        raise SimulationError(f"duration must be a positive number of seconds, got {duration!r}")
    arrivals = trace.arrivals(seed)
    clock = VirtualClock()
    store = MemoryStore()
    knowledge = Knowledge(store, clock)
    engine = make_engine(bp.engine, bp.policies, clock)
    root, managed = bp.build()
    services = [e for e in root.walk() if isinstance(e, SimWebService)]
    for svc in services:
        svc.use_arrivals(arrivals)
    await knowledge.open()
    runtime = Runtime(
        root,
        engine,
        knowledge,
        clock,
        management={e.id: spec for e, spec in managed},
        factory=bp.factory,
        drain_timeout=bp.supervisor.drain_timeout,
    )
    started = time.perf_counter()
    try:
        async with runtime.running():
            await clock.run(duration)
            for svc in services:
                svc.flush()
    finally:
        with anyio.CancelScope(shield=True):
            await knowledge.close()
            await engine.aclose()
    wall = time.perf_counter() - started
    requests = sum(sum(s.record.arrivals) for s in services)
    info = RunInfo(
        wall_s=wall,
        rounds=sum(m.rounds_run for m in runtime.managers.values()),
        policy_errors=sum(1 for r in store.all_rounds if r.error),
        requests_per_wall_s=requests / wall if wall > 0 else 0.0,
    )
    summary = Summary(
        blueprint=bp.file,
        trace=trace_label,
        seed=seed,
        duration_s=float(duration),
        services=tuple(summarize(s, store.all_actions) for s in services),
        run=info,
    )
    return SimulationRun(summary=summary, services=services, store=store, trace=trace)


def write_outputs(run: SimulationRun, out: Path, *, plots: bool = True, step_s: float = 10.0) -> list[Path]:
    """Write the summary (JSON and Markdown), a CSV time series and plots per service; return the paths."""
    from autonomic.simulate.plots import plot_record, series

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    summary_json = out / "summary.json"
    summary_json.write_text(json.dumps(run.summary.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    summary_md = out / "summary.md"
    summary_md.write_text(run.summary.to_markdown(), encoding="utf-8")
    written += [summary_json, summary_md]
    for svc in run.services:
        csv = out / f"timeseries-{svc.name}.csv"
        csv.write_text(series(svc.record, step_s).csv(), encoding="utf-8")
        written.append(csv)
        if plots:
            written += plot_record(
                svc.record,
                out / f"timeline-{svc.name}",
                title=f"{svc.id} - {Path(run.summary.trace).name}, seed {run.summary.seed}",
                rt_goal_s=svc.config.utility.rt_goal_s,
                max_servers=svc.config.max_servers,
                step_s=step_s,
            )
    return written


def run_simulation(
    blueprint: str | Path,
    trace_path: str | Path,
    *,
    seed: int = 0,
    duration_s: float | None = None,
    trace_format: str | None = None,
    rate_interval_s: float | None = None,
) -> SimulationRun:
    """Load the blueprint and the trace, and run (synchronously, in a fresh event loop)."""
    bp = load_blueprint(blueprint)
    trace = load_trace(trace_path, format=trace_format, interval_s=rate_interval_s)
    label = str(trace_path)

    async def main() -> SimulationRun:
        return await simulate(bp, trace, trace_label=label, seed=seed, duration_s=duration_s)

    return anyio.run(main)
