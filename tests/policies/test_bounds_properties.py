"""Property tests for the ``autonomic.scaling.bounds`` policy on the embedded engine.

The policy is evaluated through :class:`autonomic.policy.embedded.EmbeddedEngine`
(regorus). Besides the properties the policy promises (sizes within the pool
limits, an in-range reading changes nothing, more load never gives a smaller
size, a cold reading never grows and a hot one never shrinks), the policy is
checked against a literal Python port of Brooklyn's AutoScalerPolicy
(``analyze`` with its anti-thrashing loop, ``applyMinMaxConstraints`` and
``calculateDesiredPoolSize``), and the Rego unit tests in
``policies/scaling_bounds_test.rego`` are run on the embedded engine too.

Metric values are multiples of 1/4 and bounds are integers, so the float
arithmetic of the engine is exact where it matters (a ceil or floor landing on
an integer) and the reference model computes the same numbers.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autonomic.policy import UNDEFINED
from autonomic.policy.embedded import EmbeddedEngine

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "scaling_bounds.rego"
REGO_TESTS = ROOT / "policies" / "scaling_bounds_test.rego"
QUERY = "data.autonomic.scaling.bounds.decision"
INT_MAX = 2147483647
NOW = 1000.0
REMEMBER_KEY = "autonomic.scaling.bounds.max_size_reported"

SETTINGS = settings(derandomize=True, max_examples=200, deadline=None, database=None)


@functools.cache
def _engine() -> EmbeddedEngine:
    return EmbeddedEngine.from_paths([POLICY])


def decide(doc: Any) -> dict[str, Any]:
    result = _engine().evaluate_sync(QUERY, doc)
    assert result is not UNDEFINED, "decision must always be defined"
    assert isinstance(result, dict)
    return result


def make_input(
    cfg: dict[str, Any],
    replicas: Any,
    value: Any,
    *,
    history: list[dict[str, Any]] | None = None,
    hwm: Any = None,
    remembered: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sensors: dict[str, Any] = {"replicas": replicas, "load": value}
    if hwm is not None:
        sensors["capacity_high_water_mark"] = hwm
    return {
        "now": NOW,
        "entity": {
            "id": "shop/web",
            "name": "web",
            "type": "web-cluster",
            "config": {"bounds_scaling": cfg},
            "lifecycle": "running",
            "up": True,
            "sensors": sensors,
            "effectors": ["resize"],
        },
        "children": [],
        "knowledge": {
            "actions": [],
            "remembered": remembered or {},
            "history": {"desired_sizes": history or []},
            "cooldowns": {},
        },
        "events": [],
    }


# ---------------------------------------------------------------- strategies

values = st.integers(min_value=-40, max_value=4000).map(lambda n: n / 4)
bounds_values = st.one_of(st.none(), st.integers(min_value=-5, max_value=300))
windows = st.sampled_from([0, 0, 5, 7.5, 10, 30])


@st.composite
def configs(draw: st.DrawFn, *, aligned_maxima: bool = False) -> dict[str, Any]:
    """A valid bounds_scaling config. With ``aligned_maxima`` every resize
    maximum is a multiple of its increment (see test_more_load_never_gives_a_smaller_size)."""
    cfg: dict[str, Any] = {"metric": "load"}
    for key in ("lower_bound", "upper_bound"):
        bound = draw(bounds_values)
        if bound is not None:
            cfg[key] = bound
    min_size = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=5)))
    if min_size is not None:
        cfg["min_pool_size"] = min_size
    if draw(st.booleans()):
        cfg["max_pool_size"] = (1 if min_size is None else min_size) + draw(st.integers(min_value=0, max_value=20))
    for direction in ("up", "down"):
        inc = draw(st.integers(min_value=1, max_value=4))
        if draw(st.booleans()):
            cfg[f"resize_{direction}_increment"] = inc
        else:
            inc = 1
        if draw(st.booleans()):
            if aligned_maxima:
                cfg[f"resize_{direction}_max"] = inc * draw(st.integers(min_value=1, max_value=4))
            else:
                cfg[f"resize_{direction}_max"] = draw(st.integers(min_value=1, max_value=10))
        if draw(st.booleans()):
            cfg[f"resize_{direction}_stabilization_s"] = draw(windows)
    return cfg


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    entries = draw(
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=60)),
            max_size=8,
        )
    )
    return [{"size": size, "time": NOW - age} for size, age in sorted(entries, key=lambda e: -e[1])]


replica_counts = st.integers(min_value=0, max_value=40)
high_water_marks = st.one_of(st.none(), st.integers(min_value=0, max_value=40))


def limits(cfg: dict[str, Any]) -> tuple[int, int]:
    return cfg.get("min_pool_size", 1), cfg.get("max_pool_size", INT_MAX)


def upper_limit(cfg: dict[str, Any], hwm: int | None) -> int:
    _, max_size = limits(cfg)
    return max_size if hwm is None else min(max_size, hwm)


def counts(bound: Any) -> bool:
    return bound is not None and bound > 0


def is_hot(cfg: dict[str, Any], value: float) -> bool:
    return counts(cfg.get("upper_bound")) and value > cfg["upper_bound"]


def is_cold(cfg: dict[str, Any], value: float) -> bool:
    return not is_hot(cfg, value) and counts(cfg.get("lower_bound")) and value < cfg["lower_bound"]


# ---------------------------------------------------------------- a literal port of Brooklyn


def brooklyn_reference(
    cfg: dict[str, Any], current: int, value: float, history: list[dict[str, Any]], hwm: int | None
) -> tuple[int, int, int]:
    """(ideal size, recommendation, desired size) as Brooklyn's AutoScalerPolicy computes them."""
    lower, upper = cfg.get("lower_bound"), cfg.get("upper_bound")
    min_size, max_size = limits(cfg)
    up_inc, up_max = cfg.get("resize_up_increment", 1), cfg.get("resize_up_max", INT_MAX)
    down_inc, down_max = cfg.get("resize_down_increment", 1), cfg.get("resize_down_max", INT_MAX)

    def apply_min_max_constraints(size: int) -> int:
        size = min(max_size, max(min_size, size))
        return size if hwm is None else min(hwm, size)

    def to_int(x: float) -> int:  # Java's (int) cast of Math.ceil/Math.floor saturates
        return int(max(-INT_MAX - 1, min(INT_MAX, x)))

    total = value * current
    mode: str | None
    if counts(upper) and value > upper:
        ideal, mode = to_int(math.ceil(total / upper)), "hot"
    elif counts(lower) and value < lower:
        ideal, mode = to_int(math.floor(total / lower)), "cold"
    else:
        ideal, mode = current, None

    desired = current
    if mode is not None:
        desired = apply_min_max_constraints(ideal)
        if mode == "cold" and desired < current:
            delta = current - desired
            if delta > down_max:
                delta = down_max
            elif delta % down_inc != 0:
                delta += down_inc - delta % down_inc
            desired = current - delta
            if counts(upper):  # anti-thrashing
                while desired < current and total > upper * desired:
                    desired += down_inc
            desired = apply_min_max_constraints(desired)
            if desired >= current:
                mode = None
        elif mode == "hot" and desired > current:
            delta = desired - current
            if delta > up_max:
                delta = up_max
            elif delta % up_inc != 0:
                delta += up_inc - delta % up_inc
            desired = apply_min_max_constraints(current + delta)
            if desired <= current:
                mode = None
        else:
            mode = None
    recommendation = desired if mode is not None else current

    # calculateDesiredPoolSize over the desired-size history (SizeHistory)
    series = [(e["size"], e["time"]) for e in history] + [(recommendation, NOW)]

    def window(w: float) -> list[int] | None:
        covering = [i for i, (_, t) in enumerate(series) if t <= NOW - w]
        return [s for s, _ in series[max(covering) :]] if covering else None

    up_window = window(cfg.get("resize_up_stabilization_s", 0))
    down_window = window(cfg.get("resize_down_stabilization_s", 0))
    max_desired = min(up_window) if up_window else -INT_MAX - 1
    min_desired = max(down_window) if down_window else INT_MAX
    if current < max_desired:
        stabilized = max_desired
    elif current > min_desired:
        stabilized = min_desired
    else:
        stabilized = current
    return ideal, recommendation, apply_min_max_constraints(stabilized)


# ---------------------------------------------------------------- properties


@SETTINGS
@given(cfg=configs(), current=replica_counts, value=values, history=histories(), hwm=high_water_marks)
def test_matches_brooklyn_reference(
    cfg: dict[str, Any], current: int, value: float, history: list[dict[str, Any]], hwm: int | None
) -> None:
    d = decide(make_input(cfg, current, value, history=history, hwm=hwm))
    ideal, recommendation, desired = brooklyn_reference(cfg, current, value, history, hwm)
    assert d["recommendation"] == recommendation
    assert d["desired_size"] == desired
    names = [s["name"] for s in d["symptoms"]]
    assert ("max_size_reached" in names) == (ideal > limits(cfg)[1])


@SETTINGS
@given(cfg=configs(), current=replica_counts, value=values, history=histories(), hwm=high_water_marks)
def test_never_outside_pool_limits(
    cfg: dict[str, Any], current: int, value: float, history: list[dict[str, Any]], hwm: int | None
) -> None:
    # The high-water mark wins over min_pool_size (as in Brooklyn), so the
    # lower limit holds when the mark does not lie below it.
    min_size, max_size = limits(cfg)
    d = decide(make_input(cfg, current, value, history=history, hwm=hwm))
    assert d["desired_size"] <= max_size
    if hwm is None or hwm >= min_size:
        assert d["desired_size"] >= min_size
    if hwm is not None:
        assert d["desired_size"] <= hwm
    for action in d["actions"]:
        assert min(min_size, hwm if hwm is not None else min_size) <= action["args"]["replicas"] <= max_size


@SETTINGS
@given(cfg=configs(), current=replica_counts, value=values, history=histories(), hwm=high_water_marks)
def test_in_range_reading_changes_nothing(
    cfg: dict[str, Any], current: int, value: float, history: list[dict[str, Any]], hwm: int | None
) -> None:
    assume(not is_hot(cfg, value) and not is_cold(cfg, value))
    min_size, _ = limits(cfg)
    assume(min_size <= current <= upper_limit(cfg, hwm))
    d = decide(make_input(cfg, current, value, history=history, hwm=hwm))
    assert d["recommendation"] == current
    assert d["desired_size"] == current
    assert d["actions"] == []
    assert d["symptoms"] == []


@SETTINGS
@given(
    cfg=configs(aligned_maxima=True),
    current=replica_counts,
    values_pair=st.tuples(values, values),
    history=histories(),
    hwm=high_water_marks,
)
def test_more_load_never_gives_a_smaller_size(
    cfg: dict[str, Any],
    current: int,
    values_pair: tuple[float, float],
    history: list[dict[str, Any]],
    hwm: int | None,
) -> None:
    # Brooklyn rounds a step up to the increment only when the step is not
    # above the maximum, so with a maximum that is not a multiple of the
    # increment a larger step can end smaller (see the Rego test
    # test_step_rounding_can_exceed_resize_up_max_as_in_brooklyn). With
    # aligned maxima the policy is monotonic.
    low, high = sorted(values_pair)
    d_low = decide(make_input(cfg, current, low, history=history, hwm=hwm))
    d_high = decide(make_input(cfg, current, high, history=history, hwm=hwm))
    assert d_low["recommendation"] <= d_high["recommendation"]
    assert d_low["desired_size"] <= d_high["desired_size"]


@SETTINGS
@given(cfg=configs(), current=replica_counts, value=values, history=histories(), hwm=high_water_marks)
def test_cold_never_grows_and_hot_never_shrinks(
    cfg: dict[str, Any], current: int, value: float, history: list[dict[str, Any]], hwm: int | None
) -> None:
    hot, cold = is_hot(cfg, value), is_cold(cfg, value)
    assume(hot or cold)
    d = decide(make_input(cfg, current, value, history=history, hwm=hwm))
    names = [s["name"] for s in d["symptoms"]]
    # The proposal never moves against the reading, whatever the size.
    if cold:
        assert "pool_cold" in names
        assert d["recommendation"] <= current
    else:
        assert "pool_hot" in names
        assert d["recommendation"] >= current
    # Within the pool limits (outside them, the limits alone move the size)
    # the stabilized size does not either.
    min_size, _ = limits(cfg)
    if min_size <= current <= upper_limit(cfg, hwm):
        if cold:
            assert d["desired_size"] <= current
        else:
            assert d["desired_size"] >= current


@SETTINGS
@given(cfg=configs(), current=replica_counts, value=values, history=histories(), hwm=high_water_marks)
def test_action_iff_desired_size_differs(
    cfg: dict[str, Any], current: int, value: float, history: list[dict[str, Any]], hwm: int | None
) -> None:
    d = decide(make_input(cfg, current, value, history=history, hwm=hwm))
    if d["desired_size"] == current:
        assert d["actions"] == []
    else:
        assert d["actions"] == [
            {"target": "self", "effector": "resize", "args": {"replicas": d["desired_size"]}, "reason": d["reason"]}
        ]
    assert d["escalate"] == []
    assert isinstance(d["reason"], str) and d["reason"]


@SETTINGS
@given(cfg=configs(), current=replica_counts, value=values, reported=st.booleans())
def test_max_size_reached_reported_once(cfg: dict[str, Any], current: int, value: float, reported: bool) -> None:
    remembered = {REMEMBER_KEY: reported}
    d = decide(make_input(cfg, current, value, remembered=remembered))
    ideal, _, _ = brooklyn_reference(cfg, current, value, [], None)
    over = ideal > limits(cfg)[1]
    names = [s["name"] for s in d["symptoms"]]
    assert ("max_size_reached" in names) == (over and not reported)
    if over and not reported:
        assert d["remember"] == {REMEMBER_KEY: True}
    elif not over and reported:
        assert d["remember"] == {REMEMBER_KEY: False}
    else:
        assert d["remember"] == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**12), max_value=10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


@SETTINGS
@given(
    cfg=st.one_of(json_values, st.dictionaries(st.sampled_from(["metric", "lower_bound", "upper_bound", "min_pool_size", "max_pool_size", "resize_up_increment", "resize_up_max", "resize_down_increment", "resize_down_max", "resize_up_stabilization_s", "resize_down_stabilization_s", "other"]), json_values)),
    replicas=json_values,
    value=json_values,
    history=json_values,
    hwm=json_values,
    now=json_values,
)
def test_any_input_gives_a_well_formed_decision(
    cfg: Any, replicas: Any, value: Any, history: Any, hwm: Any, now: Any
) -> None:
    doc = make_input(cfg, replicas, value, hwm=hwm)
    doc["knowledge"]["history"]["desired_sizes"] = history
    doc["now"] = now
    d = decide(doc)
    assert set(d) == {"symptoms", "actions", "escalate", "remember", "desired_size", "recommendation", "reason"}
    assert isinstance(d["symptoms"], list) and isinstance(d["actions"], list)
    assert d["escalate"] == [] and isinstance(d["remember"], dict) and isinstance(d["reason"], str)
    if d["desired_size"] is None:
        # nothing done, and one symptom says why
        assert d["actions"] == [] and d["recommendation"] is None and d["remember"] == {}
        assert len(d["symptoms"]) == 1
        assert d["symptoms"][0]["name"] in {
            "bounds_config_missing",
            "bounds_config_invalid",
            "replicas_unknown",
            "metric_unknown",
            "time_unknown",
        }


def test_null_metric_does_nothing() -> None:
    d = decide(make_input({"metric": "load", "lower_bound": 50, "upper_bound": 100}, 3, None))
    assert d["actions"] == [] and d["desired_size"] is None
    assert [s["name"] for s in d["symptoms"]] == ["metric_unknown"]


# ---------------------------------------------------------------- the Rego unit tests, on the embedded engine

_REGO_TEST_NAMES = re.findall(r"^(test_\w+) if", REGO_TESTS.read_text(), re.MULTILINE)


@functools.cache
def _test_engine() -> EmbeddedEngine:
    return EmbeddedEngine.from_paths([POLICY, REGO_TESTS])


def test_rego_tests_found() -> None:
    assert len(_REGO_TEST_NAMES) > 50


@pytest.mark.parametrize("name", _REGO_TEST_NAMES)
def test_rego_unit_test_passes_on_embedded_engine(name: str) -> None:
    assert _test_engine().evaluate_sync(f"data.autonomic.scaling.bounds_test.{name}", {}) is True
