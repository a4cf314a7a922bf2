"""Simulation speed (issue 6): a 105-minute trace of about 140,000 requests through ``autonomic simulate``.

    python benchmarks/bench_simulate.py [--repeat 3] [--blueprint examples/simulate/blueprint.yaml]

Prints requests simulated per second of wall time and the wall time of:

- the whole run (the blueprint's managers and Rego policies on the virtual clock, the
  sim-web-service entity, the summary), as ``autonomic simulate`` does it;
- the request-level model alone (the entity's discrete-event core advanced in 5-second
  steps, with its sliding-window figures at each step);

each against a baseline measured in the same run: the floor of a discrete-event
simulation in CPython, a bare ``heapq`` loop over the same arrivals (one FIFO server, one
push and one pop per request, nothing recorded). Timings are on a shared, noisy machine:
read the ratios, and take the best of several repeats.
"""

from __future__ import annotations

import argparse
import heapq
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autonomic.blueprint import load_blueprint
from autonomic.entities.swim import ServiceTime, WebServiceModel
from autonomic.observability import configure_logging
from autonomic.simulate.runner import simulate
from autonomic.simulate.trace import Trace, diurnal, to_interarrival
from benchmarks._common import machine, table

ROOT = Path(__file__).resolve().parents[1]


def trace_105m() -> Trace:
    """The benchmark's trace: 105 minutes, one diurnal hump from 6 to 38.5 requests/s, SWIM's format."""
    return to_interarrival(diurnal(6300, base=6, peak=38.5, period_s=6300, interval_s=10, seed=1), seed=1)


def baseline(arrivals: Sequence[float], service_s: float = 0.03) -> int:
    """A bare discrete-event loop: one FIFO server, a heap of completions; returns requests served."""
    heap: list[float] = []
    free = 0.0
    served = 0
    for a in arrivals:
        while heap and heap[0] <= a:
            heapq.heappop(heap)
            served += 1
        free = max(free, a) + service_s
        heapq.heappush(heap, free)
    return served + len(heap)


def model_only(arrivals: Sequence[float], duration: float) -> int:
    """The sim-web-service model with the example's servers and service times, sampled every 5 s."""
    m = WebServiceModel(
        arrivals=arrivals,
        start=0.0,
        initial_servers=2,
        threads=100,
        timeout_s=10,
        boot_delay_s=60,
        dimmer=1.0,
        service_time=ServiceTime(kind="lognormal", mean=0.03, cv=1.0),
        basic_service_time=ServiceTime(kind="lognormal", mean=0.001, cv=1.0),
        rt_goal_s=0.75,
        bucket_s=1.0,
        window_s=60.0,
        seed=1,
    )
    t = 0.0
    while t < duration:
        t += 5.0
        m.advance(t)
        m.window()
    return sum(m.record.arrivals)


def best_of(repeat: int, fn: Callable[[], int]) -> tuple[float, int]:
    """The best wall time of ``repeat`` calls, and what the call returned."""
    best = float("inf")
    out = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--blueprint", default=str(ROOT / "examples" / "simulate" / "blueprint.yaml"))
    args = ap.parse_args()
    configure_logging(level="warning")

    trace = trace_105m()
    arrivals = trace.arrivals()
    n = len(arrivals)
    bp = load_blueprint(args.blueprint)

    def full() -> int:
        run = anyio.run(lambda: simulate(bp, trace, trace_label="diurnal-105m", seed=1))
        return run.summary.services[0].requests

    base_s, served = best_of(args.repeat, lambda: baseline(arrivals))
    model_s, model_n = best_of(args.repeat, lambda: model_only(arrivals, 6300.0))
    full_s, full_n = best_of(args.repeat, full)
    assert served == n and model_n == n and full_n == n, (served, model_n, full_n, n)

    print(f"# Simulation speed: {n:,} requests over {trace.duration_s / 60:.0f} minutes of trace")
    print(f"{machine()}; best of {args.repeat}")
    print()
    print(
        table(
            [
                (
                    "autonomic simulate (managers, Rego, model)",
                    f"{full_s:.2f} s",
                    f"{base_s:.3f} s",
                    f"{full_s / base_s:.1f}x",
                ),
                ("  requests/s", f"{n / full_s:,.0f}", f"{n / base_s:,.0f}", f"{base_s / full_s:.3f}"),
                ("request-level model alone", f"{model_s:.2f} s", f"{base_s:.3f} s", f"{model_s / base_s:.1f}x"),
                ("  requests/s", f"{n / model_s:,.0f}", f"{n / base_s:,.0f}", f"{base_s / model_s:.3f}"),
                ("simulated seconds per wall second", f"{6300 / full_s:,.0f}", "", ""),
            ]
        )
    )


if __name__ == "__main__":
    main()
