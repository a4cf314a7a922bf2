"""``autonomic simulate`` end to end: determinism, summary, plots, speed, the CLI, and the examples."""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from autonomic.blueprint import load_blueprint, parse_blueprint
from autonomic.cli import build_parser
from autonomic.entities.swim import ServiceRecord, Utility
from autonomic.simulate.cli import register
from autonomic.simulate.runner import SimulationError, simulate, write_outputs
from autonomic.simulate.summary import oscillations, period_utilities
from autonomic.simulate.trace import Trace, TraceFormat, diurnal, load_trace, steps, to_interarrival

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "simulate"
BLUEPRINT = EXAMPLES / "blueprint.yaml"
REACTIVE = EXAMPLES / "reactive.yaml"
PNG = b"\x89PNG\r\n\x1a\n"

SHORT = steps(1200, levels=(20, 90, 20), step_s=400, interval_s=10)


@pytest.mark.anyio
async def test_the_same_seed_gives_the_same_summary() -> None:
    bp = load_blueprint(BLUEPRINT)
    a = await simulate(bp, SHORT, trace_label="steps", seed=3)
    b = await simulate(bp, SHORT, trace_label="steps", seed=3)
    c = await simulate(bp, SHORT, trace_label="steps", seed=4)
    assert a.summary.to_json(timing=False) == b.summary.to_json(timing=False)
    assert a.summary.to_json(timing=False) != c.summary.to_json(timing=False)
    assert list(a.services[0].record.response_times) == list(b.services[0].record.response_times)
    s = a.summary.services[0]
    assert s.requests == sum(a.services[0].record.arrivals) > 30_000
    assert s.actions > 0 and s.actions_failed == 0
    assert a.summary.run.policy_errors == 0 and a.summary.run.rounds >= 15


@pytest.mark.anyio
async def test_the_brownout_policy_pulls_both_levers() -> None:
    run = await simulate(load_blueprint(BLUEPRINT), SHORT, trace_label="steps", seed=1)
    s = run.summary.services[0]
    rec = run.services[0].record
    assert set(s.actions_by_effector) == {"set_servers", "set_dimmer"}
    # 90 req/s of 30 ms needs three servers and a lower dimmer; 20 req/s one server at full dimmer
    assert max(rec.servers) == 3 and min(rec.dimmer) < 1
    assert rec.servers[-1] < 3 and rec.dimmer[-1] == 1.0
    # the step up is instant, so the minute until the next round is late; the rest is not
    assert s.utility > 0 and s.late_share is not None and s.late_share < 0.25
    assert s.periods_goal_missed <= 2


T = TypeVar("T")


def in_fresh_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` on a new thread: the anyio pytest plugin may keep an event loop running on
    this one (for session-scoped async fixtures), and ``anyio.run`` refuses to nest in it."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # re-raised on the test's thread
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    value: T = out["value"]
    return value


def test_a_blueprint_without_a_simulated_service_is_refused() -> None:
    import anyio

    bp = parse_blueprint("name: x\nentity:\n  name: x\n")
    with pytest.raises(SimulationError, match="no simulated service"):
        in_fresh_thread(lambda: anyio.run(lambda: simulate(bp, SHORT, trace_label="t")))


def test_period_utilities_follow_swims_shape() -> None:
    rec = ServiceRecord(start=0.0, bucket_s=1.0)
    rec.arrivals += [10, 10, 10, 10]
    rec.served += [10, 10, 5, 5]
    rec.served_optional += [5, 5, 5, 0]
    rec.timeouts += [0, 0, 5, 5]
    rec.rt_sum += [1.0, 1.0, 50.5, 50.5]
    rec.server_s += [2.0, 2.0, 2.0, 2.0]
    u = Utility(rt_goal_s=0.75, revenue_optional=1.5, revenue_basic=1.0, cost_per_server_s=1.0, period_s=2)
    first, second = period_utilities(rec, u, kappa=100.0)
    # goal met: 10 with optional content at 1.5, 10 without at 1.0, minus 4 server-seconds
    assert (first.goal_met, first.revenue, first.penalty, first.cost) == (True, 25.0, 0.0, 4.0)
    assert first.utility == 21.0 and first.response_time == 0.1
    # goal missed (mean 5.05 s): 2 s * min(0, 10 * 1.5 - 100 * 1.5), and no revenue
    assert (second.goal_met, second.revenue, second.penalty) == (False, 0.0, -270.0)
    assert second.utility == -274.0


def test_oscillations_count_direction_changes() -> None:
    assert oscillations([]) == 0
    assert oscillations([(0, 1), (1, 1), (2, 2)]) == 0
    assert oscillations([(0, 1), (1, 1), (2, -1), (3, 2), (4, 0), (5, -1)]) == 3


@pytest.mark.anyio
async def test_outputs_summary_csv_and_plots(tmp_path: Path) -> None:
    run = await simulate(load_blueprint(BLUEPRINT), SHORT, trace_label="steps", seed=1)
    written = write_outputs(run, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["summary.json", "summary.md", "timeline-web.png", "timeline-web.svg", "timeseries-web.csv"]
    assert (tmp_path / "out" / "timeline-web.png").read_bytes()[:8] == PNG
    assert (tmp_path / "out" / "timeline-web.png").stat().st_size > 20_000
    svg = (tmp_path / "out" / "timeline-web.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    doc = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert doc["services"][0]["entity"] == "web" and "wall_s" in doc["run"]
    assert len(doc["services"][0]["period_utilities"]) == 20
    csv = (tmp_path / "out" / "timeseries-web.csv").read_text().splitlines()
    assert csv[0].startswith("time_s,arrival_rate,throughput,response_time_s,servers")
    assert len(csv) == 1 + 120
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| utility" in md and "| oscillations" in md


def test_the_105_minute_trace_of_140k_requests(capsys: pytest.CaptureFixture[str]) -> None:
    import anyio

    trace = to_interarrival(diurnal(6300, base=6, peak=38.5, period_s=6300, interval_s=10, seed=1), seed=1)
    assert 135_000 < len(trace.values) < 145_000
    bp = load_blueprint(BLUEPRINT)
    started = time.perf_counter()
    run = in_fresh_thread(lambda: anyio.run(lambda: simulate(bp, trace, trace_label="diurnal-105m", seed=1)))
    wall = time.perf_counter() - started
    s = run.summary.services[0]
    assert s.requests == len(trace.values)
    assert s.served + s.timeouts + s.rejected + s.unfinished == s.requests
    assert run.summary.duration_s == 6300 and run.summary.run.policy_errors == 0
    with capsys.disabled():
        print(
            f"\n105-minute trace: {s.requests:,} requests simulated with the real managers in {wall:.2f} s "
            f"({s.requests / wall:,.0f} requests/s)"
        )


def _cli(argv: list[str]) -> int:
    # The simulate and trace subcommands, as autonomic.cli wires them with register().
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "simulate" not in sub.choices:
        register(sub)
    args = parser.parse_args(argv)
    code: int = in_fresh_thread(lambda: args.fn(args))
    return code


def test_cli_generates_a_trace_and_simulates_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "crowd.trace"
    code = _cli(
        [
            "trace",
            "generate",
            "flash-crowd",
            "--duration",
            "900",
            "--base",
            "10",
            "--peak",
            "80",
            "--at",
            "300",
            "--seed",
            "2",
            "--out",
            str(trace),
        ]
    )
    assert code == 0
    assert "rate trace, 900 s" in capsys.readouterr().out
    assert "# autonomic trace generate flash-crowd: duration_s=900, base=10.0, peak=80.0" in trace.read_text()
    delta = tmp_path / "crowd.delta"
    assert (
        _cli(["trace", "generate", "diurnal", "--duration", "120", "--format", "interarrival", "--out", str(delta)])
        == 0
    )
    assert load_trace(delta).format is TraceFormat.INTERARRIVAL
    assert _cli(["trace", "info", str(delta)]) == 0
    assert "interarrival trace, 120 s" in capsys.readouterr().out

    out = tmp_path / "sim"
    code = _cli(
        [
            "simulate",
            str(BLUEPRINT),
            "--trace",
            str(trace),
            "--seed",
            "2",
            "--out",
            str(out),
            "--duration",
            "600",
            "--step",
            "30",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| utility" in printed and "wrote " in printed
    doc: dict[str, Any] = json.loads((out / "summary.json").read_text())
    assert doc["seed"] == 2 and doc["duration_s"] == 600
    assert (out / "timeline-web.png").read_bytes()[:8] == PNG
    assert len((out / "timeseries-web.csv").read_text().splitlines()) == 1 + 20


def test_cli_reports_bad_blueprints_and_traces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from autonomic.simulate.trace import TraceError

    bad = tmp_path / "bad.yaml"
    bad.write_text("entity:\n  name: web\n  type: autonomic.entities.swim:SimWebService\n  config: {dimmer: 3}\n")
    trace = tmp_path / "t.trace"
    trace.write_text("0.1\n0.2\n")
    assert _cli(["simulate", str(bad), "--trace", str(trace), "--out", str(tmp_path / "o")]) == 1
    assert "dimmer must be in [0, 1]" in capsys.readouterr().err
    trace.write_text("0.1\nlots\n")
    with pytest.raises(TraceError, match=r"t.trace:2: not a number"):
        _cli(["simulate", str(BLUEPRINT), "--trace", str(trace), "--out", str(tmp_path / "o")])


def test_the_two_example_blueprints_simulate_the_same_service() -> None:
    brownout = yaml.safe_load(BLUEPRINT.read_text())["entity"]
    reactive = yaml.safe_load(REACTIVE.read_text())["entity"]
    config = dict(reactive["config"])
    assert config.pop("extra") == {"reactive": {"step": 0.1}}
    assert brownout["config"] == config
    assert brownout["manager"] == reactive["manager"]
    assert brownout["policies"] == ["autonomic.brownout"] and reactive["policies"] == ["example.reactive"]
    load_blueprint(BLUEPRINT).build()
    load_blueprint(REACTIVE).build()


def test_the_sample_traces_are_small_and_readable() -> None:
    files = sorted((EXAMPLES / "traces").iterdir())
    assert len(files) >= 4
    assert sum(f.stat().st_size for f in files) < 2_000_000
    for f in files:
        trace = load_trace(f)
        assert trace.duration_s > 1700 and trace.expected_requests > 10_000, f.name


def test_rate_traces_are_drawn_from_the_run_seed() -> None:
    flat = Trace(format=TraceFormat.RATE, values=(10.0,) * 6, interval_s=10)
    assert list(flat.arrivals(1)) != list(flat.arrivals(2))
