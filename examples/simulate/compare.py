"""Compare autonomic.brownout with SWIM's reactive manager on the sample traces (docs/simulation.md).

    python examples/simulate/compare.py [--seeds 0 1 2 3 4] [--out simulation-compare]

Prints one Markdown table per trace (seed 0) and a table of utility over the
seeds, and writes every run's outputs (summary, CSV, plots) under --out.
"""

from __future__ import annotations

import argparse
import functools
import statistics
from pathlib import Path

import anyio

from autonomic.blueprint import load_blueprint
from autonomic.observability import configure_logging
from autonomic.simulate.runner import simulate, write_outputs
from autonomic.simulate.summary import ServiceSummary, comparison_table
from autonomic.simulate.trace import load_trace

HERE = Path(__file__).resolve().parent
TRACES = ["diurnal-105m.trace", "diurnal-30m.delta", "flash-crowd-60m.trace", "steps-60m.trace", "noise-60m.trace"]
POLICIES = {"autonomic.brownout": HERE / "blueprint.yaml", "SWIM reactive": HERE / "reactive.yaml"}


def main() -> None:
    """Run every trace under both blueprints and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--out", default="simulation-compare")
    args = ap.parse_args()
    configure_logging(level="warning")
    blueprints = {label: load_blueprint(path) for label, path in POLICIES.items()}
    utilities: dict[tuple[str, str], list[float]] = {}
    for name in TRACES:
        trace = load_trace(HERE / "traces" / name)
        first: list[tuple[str, ServiceSummary]] = []
        for seed in args.seeds:
            for label, bp in blueprints.items():
                run = anyio.run(functools.partial(simulate, bp, trace, trace_label=name, seed=seed))
                summary = run.summary.services[0]
                utilities.setdefault((name, label), []).append(summary.utility)
                if seed == args.seeds[0]:
                    first.append((label, summary))
                    slug = label.replace(" ", "-").replace(".", "-").lower()
                    write_outputs(run, Path(args.out) / f"{Path(name).stem}-{slug}")
        print(f"### {name} (seed {args.seeds[0]})\n")
        print(comparison_table(first))
        print()
    print(f"### Utility over seeds {', '.join(map(str, args.seeds))} (mean and range)\n")
    labels = list(POLICIES)
    print("| trace | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name in TRACES:
        cells = []
        for label in labels:
            us = utilities[(name, label)]
            cells.append(f"{statistics.fmean(us):,.0f} ({min(us):,.0f} to {max(us):,.0f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
