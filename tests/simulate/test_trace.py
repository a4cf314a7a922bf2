"""Trace formats (interarrival, rate), their headers and errors, arrivals, and the generators."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autonomic.simulate.trace import (
    GENERATORS,
    Trace,
    TraceError,
    TraceFormat,
    diurnal,
    flash_crowd,
    format_trace,
    load_trace,
    noise,
    parse_trace,
    steps,
    to_interarrival,
    write_trace,
)

SETTINGS = settings(derandomize=True, max_examples=150, deadline=None, database=None)


def test_interarrival_is_the_default_and_sums_to_arrival_times() -> None:
    t = parse_trace("0.5\n0.25\n\n1.0  # a comment\n")
    assert t.format is TraceFormat.INTERARRIVAL
    assert t.values == (0.5, 0.25, 1.0)
    assert list(t.arrivals()) == [0.5, 0.75, 1.75]
    assert t.duration_s == 1.75
    assert t.expected_requests == 3


def test_swim_delta_files_with_several_values_per_line_parse() -> None:
    assert parse_trace("0.1 0.2\t0.3\n").values == (0.1, 0.2, 0.3)


def test_rate_header_and_interval() -> None:
    t = parse_trace("# some words first\n# format: rate\n# interval: 30\n10\n20\n")
    assert t.format is TraceFormat.RATE
    assert t.interval_s == 30
    assert t.duration_s == 60
    assert t.expected_requests == 900


def test_rate_format_given_by_the_caller_when_there_is_no_header() -> None:
    t = parse_trace("5\n5\n", format="rate", interval_s=10)
    assert (t.format, t.interval_s, t.duration_s) == (TraceFormat.RATE, 10, 20)
    assert parse_trace("5\n", format="rate").interval_s == 60


def test_a_header_and_a_caller_that_disagree_are_an_error() -> None:
    with pytest.raises(TraceError, match=r"t:1: the file says format rate, but interarrival"):
        parse_trace("# format: rate\n1\n", format="interarrival", source="t")
    with pytest.raises(TraceError, match=r"t:2: the file says interval 10 s, but 60 s"):
        parse_trace("# format: rate\n# interval: 10\n1\n", interval_s=60, source="t")
    assert parse_trace("# format: rate\n1\n", format="auto").format is TraceFormat.RATE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.1\nabc\n", r"t:2: not a number: 'abc'"),
        ("0.1\n-1\n", r"t:2: values must be finite and >= 0"),
        ("nan\n", r"t:1: values must be finite"),
        ("inf\n", r"t:1: values must be finite"),
        ("# format: bursty\n1\n", r"t:1: unknown format 'bursty'"),
        ("# format: rate\n# interval: soon\n1\n", r"t:2: interval must be a number"),
        ("# format: rate\n# interval: 0\n1\n", r"t:2: interval must be a positive"),
        ("# format: rate\n# format: rate\n1\n", r"t:2: header 'format' given twice"),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        parse_trace(text, source="t")


def test_unknown_format_from_the_caller() -> None:
    with pytest.raises(TraceError, match="unknown trace format 'csv'"):
        parse_trace("1\n", format="csv")


def test_header_lines_after_values_are_comments() -> None:
    t = parse_trace("0.5\n# format: rate\n0.5\n")
    assert t.format is TraceFormat.INTERARRIVAL and t.values == (0.5, 0.5)


def test_load_trace_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read trace"):
        load_trace(tmp_path / "missing.trace")


finite = st.floats(min_value=0, max_value=1e5, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(values=st.lists(finite, max_size=60), rate=st.booleans(), interval=st.sampled_from([1.0, 10.0, 60.0, 0.5]))
def test_written_traces_read_back_the_same(values: list[float], rate: bool, interval: float) -> None:
    places = 4 if rate else 6
    rounded = tuple(round(v, places) for v in values)
    fmt = TraceFormat.RATE if rate else TraceFormat.INTERARRIVAL
    trace = Trace(format=fmt, values=rounded, interval_s=interval if rate else 60.0)
    back = parse_trace(format_trace(trace, comment="generated\n\nby a test"))
    assert back == trace


@SETTINGS
@given(
    values=st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=40),
    separators=st.lists(st.sampled_from([" ", "\t", "\n", "  \n", "\n\n", " # note\n"]), min_size=40, max_size=40),
)
def test_any_whitespace_layout_parses(values: list[float], separators: list[str]) -> None:
    text = "".join(f"{v!r}{sep}" for v, sep in zip(values, separators, strict=False))
    assert parse_trace(text).values == tuple(values)


@SETTINGS
@given(st.text(alphabet="0123456789.-e \n#xa", max_size=40))
def test_arbitrary_text_parses_or_raises_trace_error(text: str) -> None:
    try:
        t = parse_trace(text)
    except TraceError:
        return
    assert all(v >= 0 and math.isfinite(v) for v in t.values)


def test_rate_arrivals_are_poisson_per_interval_and_seeded() -> None:
    t = Trace(format=TraceFormat.RATE, values=(100.0, 0.0, 50.0), interval_s=100.0)
    a = list(t.arrivals(7))
    assert a == list(t.arrivals(7)) and a != list(t.arrivals(8))
    assert a == sorted(a)
    first = sum(1 for x in a if x < 100)
    gap = sum(1 for x in a if 100 <= x < 200)
    last = sum(1 for x in a if 200 <= x < 300)
    # 10,000 and 5,000 expected: within 5 standard deviations
    assert abs(first - 10_000) < 500 and gap == 0 and abs(last - 5_000) < 360


def test_to_interarrival_keeps_the_requests_and_round_trips(tmp_path: Path) -> None:
    rate = Trace(format=TraceFormat.RATE, values=(20.0, 40.0), interval_s=30.0)
    ia = to_interarrival(rate, seed=3)
    assert ia.format is TraceFormat.INTERARRIVAL
    assert len(ia.values) == len(rate.arrivals(3))
    times = list(ia.arrivals())
    assert all(abs(x - y) < 1e-5 for x, y in zip(times, rate.arrivals(3), strict=True))
    write_trace(ia, tmp_path / "x.delta")
    assert load_trace(tmp_path / "x.delta") == ia
    assert to_interarrival(ia) is ia


def test_rate_series_of_both_formats() -> None:
    assert Trace(format=TraceFormat.RATE, values=(1.0, 3.0), interval_s=10).rate_series(5) == [1.0, 1.0, 3.0, 3.0]
    ia = Trace(format=TraceFormat.INTERARRIVAL, values=(0.5, 0.5, 0.5, 2.0))
    assert ia.rate_series(1.0) == [1.0, 2.0, 0.0, 1.0]


def test_diurnal_goes_from_base_to_peak_and_back() -> None:
    t = diurnal(3600, base=10, peak=50, period_s=3600, noise_sigma=0, interval_s=60)
    assert t.format is TraceFormat.RATE and len(t.values) == 60
    assert min(t.values) == pytest.approx(10, abs=0.1)
    assert max(t.values) == pytest.approx(50, abs=0.1)
    assert t.values[0] < t.values[15] < t.values[29]
    assert t.values[29] == pytest.approx(t.values[30], abs=0.01)


def test_flash_crowd_rises_at_its_time_and_decays() -> None:
    t = flash_crowd(1800, base=10, peak=100, at_s=600, rise_s=60, decay_s=300, noise_sigma=0, interval_s=10)
    assert set(t.values[:60]) == {10.0}
    assert max(t.values) == pytest.approx(100, abs=5)
    peak_at = t.values.index(max(t.values))
    assert 60 <= peak_at <= 67
    assert t.values[-1] < 20


def test_steps_hold_each_level_and_cycle() -> None:
    t = steps(400, levels=(5, 15), step_s=100, interval_s=50)
    assert t.values == (5, 5, 15, 15, 5, 5, 15, 15)


def test_noise_wanders_around_its_base() -> None:
    t = noise(36000, base=40, sigma=0.3, corr_s=120, interval_s=10, seed=4)
    mean = sum(t.values) / len(t.values)
    assert 34 < mean < 46
    assert min(t.values) < 30 and max(t.values) > 50


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_generators_are_deterministic_for_a_seed(kind: str) -> None:
    fn = GENERATORS[kind]
    a = fn(1200, seed=1)
    assert a == fn(1200, seed=1)
    assert a.duration_s == 1200
    assert all(v >= 0 for v in a.values)
    if kind != "steps":
        assert a != fn(1200, seed=2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: diurnal(0), "duration must be a positive"),
        (lambda: diurnal(100, period_s=0), "period must be positive"),
        (lambda: diurnal(100, base=-1), "base must be a finite rate"),
        (lambda: steps(100, levels=()), "at least one level"),
        (lambda: steps(100, step_s=0), "step must be positive"),
        (lambda: noise(100, sigma=-1), "sigma must be"),
        (lambda: flash_crowd(100, decay_s=0), "decay"),
        (lambda: diurnal(100, interval_s=0), "interval must be a positive"),
    ],
)
def test_generator_arguments_are_checked(call: object, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        call()  # type: ignore[operator]
