"""The ``autonomic simulate`` and ``autonomic trace`` commands.

:func:`register` adds both to the ``autonomic`` argument parser. Importing
this module is cheap: the simulator is imported when a command runs.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _cmd_simulate(args: argparse.Namespace) -> int:
    from autonomic.errors import BlueprintError
    from autonomic.observability import configure_logging
    from autonomic.simulate.plots import PlotsUnavailable
    from autonomic.simulate.runner import run_simulation, write_outputs

    configure_logging(json={"json": True, "console": False, "auto": None}[args.log_format], level=args.log_level)
    try:
        run = run_simulation(
            args.blueprint,
            args.trace,
            seed=args.seed,
            duration_s=args.duration,
            trace_format=args.trace_format,
            rate_interval_s=args.rate_interval,
        )
    except BlueprintError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"{args.blueprint}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    out = Path(args.out)
    try:
        written = write_outputs(run, out, plots=not args.no_plots, step_s=args.step)
    except PlotsUnavailable as exc:
        print(f"note: {exc}; writing the summary without plots", file=sys.stderr)
        written = write_outputs(run, out, plots=False, step_s=args.step)
    print(run.summary.to_markdown())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


#: the options each generator takes, beyond --duration, --interval and --seed: (flag, parameter, type, help)
_GENERATOR_OPTIONS: dict[str, list[tuple[str, str, Any, str]]] = {
    "diurnal": [
        ("--base", "base", float, "lowest rate (requests/s)"),
        ("--peak", "peak", float, "highest rate (requests/s)"),
        ("--period", "period_s", float, "seconds from trough to trough"),
        ("--phase", "phase_s", float, "seconds into the period at the start"),
        ("--noise", "noise_sigma", float, "log-normal noise width (0: none)"),
    ],
    "flash-crowd": [
        ("--base", "base", float, "steady rate (requests/s)"),
        ("--peak", "peak", float, "rate at the crowd's top (requests/s)"),
        ("--at", "at_s", float, "when the crowd starts (s; default: a third in)"),
        ("--rise", "rise_s", float, "seconds from base to peak"),
        ("--decay", "decay_s", float, "time constant of the decay back to base (s)"),
        ("--noise", "noise_sigma", float, "log-normal noise width (0: none)"),
    ],
    "steps": [
        ("--levels", "levels", lambda s: [float(x) for x in s.split(",")], "comma-separated rates, e.g. 10,40,20"),
        ("--step", "step_s", float, "seconds each level holds"),
    ],
    "noise": [
        ("--base", "base", float, "mean rate (requests/s)"),
        ("--sigma", "sigma", float, "log-normal width of the walk"),
        ("--corr", "corr_s", float, "correlation time of the walk (s)"),
    ],
}


def _cmd_trace_generate(args: argparse.Namespace) -> int:
    from autonomic.simulate.trace import GENERATORS, TraceFormat, to_interarrival, write_trace

    fn = GENERATORS[args.kind]
    kwargs: dict[str, Any] = {}
    for _, param, _, _ in _GENERATOR_OPTIONS[args.kind]:
        value = getattr(args, param)
        if value is not None:
            kwargs[param] = value
    trace = fn(args.duration, interval_s=args.interval, seed=args.seed, **kwargs)
    shown = {
        name: p.default
        for name, p in inspect.signature(fn).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    shown.update(kwargs, interval_s=args.interval, seed=args.seed)
    params = ", ".join(f"{k}={v}" for k, v in shown.items())
    comment = f"autonomic trace generate {args.kind}: duration_s={args.duration:g}, {params}"
    if TraceFormat(args.format) is TraceFormat.INTERARRIVAL:
        trace = to_interarrival(trace, seed=args.seed)
        comment += "\nrequests drawn as a Poisson process from the rates, with the same seed"
    write_trace(trace, args.out, comment=comment)
    print(_describe(args.out, trace))
    return 0


def _cmd_trace_info(args: argparse.Namespace) -> int:
    from autonomic.simulate.trace import load_trace

    trace = load_trace(args.file, format=args.format, interval_s=args.rate_interval)
    print(_describe(args.file, trace))
    return 0


def _describe(path: str, trace: Any) -> str:
    rates = trace.rate_series(60.0)
    mean = trace.expected_requests / trace.duration_s if trace.duration_s > 0 else 0.0
    return (
        f"{path}: {trace.format.value} trace, {trace.duration_s:,.0f} s, "
        f"{trace.expected_requests:,.0f} requests, mean {mean:.2f}/s, "
        f"peak minute {max(rates, default=0.0):.2f}/s"
    )


def register(subparsers: Any) -> None:
    """Add ``simulate`` and ``trace`` to the subcommands of the ``autonomic`` parser."""
    s = subparsers.add_parser(
        "simulate",
        help="run a blueprint's managers and policies on the virtual clock against a workload trace",
        description=(
            "Run the blueprint's real managers and Rego policies on a virtual clock (embedded engine, "
            "in-memory Knowledge) against simulated web services fed by a trace; print and write a "
            "summary (utility, late responses, servers, actions, oscillations) and plots."
        ),
    )
    s.add_argument("blueprint")
    s.add_argument("--trace", required=True, help="a trace file (interarrival or rate format)")
    s.add_argument("--duration", type=float, default=None, help="seconds to simulate (default: the trace's length)")
    s.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    s.add_argument("--out", default="simulation", help="folder for summary.json, summary.md, CSV and plots")
    s.add_argument(
        "--trace-format",
        choices=["auto", "interarrival", "rate"],
        default=None,
        help="how to read a trace without a format header (default: interarrival)",
    )
    s.add_argument(
        "--rate-interval",
        type=float,
        default=None,
        help="seconds per value of a rate trace without an interval header (default 60)",
    )
    s.add_argument("--step", type=float, default=10.0, help="seconds per point of the plots and CSV (default 10)")
    s.add_argument("--no-plots", action="store_true", help="write no PNG/SVG plots")
    s.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    s.add_argument("--log-format", choices=["auto", "json", "console"], default="auto")
    s.set_defaults(fn=_cmd_simulate)

    t = subparsers.add_parser("trace", help="generate and inspect workload traces")
    tsub = t.add_subparsers(dest="trace_command", required=True)
    g = tsub.add_parser("generate", help="write a synthetic trace")
    gsub = g.add_subparsers(dest="kind", required=True)
    for kind, options in _GENERATOR_OPTIONS.items():
        k = gsub.add_parser(kind, help=(inspect.getdoc(_generator(kind)) or "").split("\n", 1)[0])
        k.add_argument("--duration", type=float, required=True, help="seconds of trace")
        k.add_argument("--out", required=True, help="file to write")
        k.add_argument("--seed", type=int, default=0)
        k.add_argument("--interval", type=float, default=10.0, help="seconds per rate value (default 10)")
        k.add_argument(
            "--format",
            choices=["rate", "interarrival"],
            default="rate",
            help="rate (compact) or interarrival (SWIM's .delta format, one request per line)",
        )
        for flag, param, kind_type, text in options:
            k.add_argument(flag, dest=param, type=kind_type, default=None, help=text)
        k.set_defaults(fn=_cmd_trace_generate)
    i = tsub.add_parser("info", help="describe a trace: format, length, requests, rates")
    i.add_argument("file")
    i.add_argument("--format", choices=["auto", "interarrival", "rate"], default=None)
    i.add_argument("--rate-interval", type=float, default=None)
    i.set_defaults(fn=_cmd_trace_info)


def _generator(kind: str) -> Any:
    from autonomic.simulate.trace import GENERATORS

    return GENERATORS[kind]
