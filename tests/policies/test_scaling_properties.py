"""Property tests for the ``autonomic.scaling`` policy (HPA semantics) on the embedded engine.

The policy is evaluated through :class:`autonomic.policy.embedded.EmbeddedEngine`
(regorus) loaded from ``policies/``. Properties:

* the decision is always well formed, and never outside ``[min_replicas,
  max_replicas]`` (except HPA's "scaling disabled": zero replicas and
  ``min_replicas > 0`` stays at zero and does nothing);
* when every metric is inside the tolerance band, nothing changes;
* more load never gives fewer replicas.

The band is decided the way the Go controller decides it, with float64
(Python floats): ``(1 - scale_down) <= ratio <= (1 + scale_up)``, the ratio
being computed from the integer milli-values and percentages HPA uses.
The Rego unit tests in ``policies/scaling_test.rego`` are run on the embedded
engine too.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autonomic.policy import UNDEFINED
from autonomic.policy.embedded import EmbeddedEngine

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
REGO_TESTS = POLICIES / "scaling_test.rego"
QUERY = "data.autonomic.scaling.decision"
NOW = 1700000000.0

SETTINGS = settings(derandomize=True, max_examples=200, deadline=None, database=None)


@functools.cache
def _engine() -> EmbeddedEngine:
    return EmbeddedEngine.from_paths([POLICIES])


def decide(doc: Any) -> dict[str, Any]:
    result = _engine().evaluate_sync(QUERY, doc)
    assert result is not UNDEFINED, "decision must always be defined"
    assert isinstance(result, dict)
    return result


def check_shape(d: dict[str, Any], current: int) -> None:
    """The decision contract: the standard fields, at most one resize, only when the size changes."""
    assert set(d) >= {"symptoms", "actions", "escalate", "remember", "desired_replicas", "recommendation", "reason"}
    assert isinstance(d["reason"], str)
    assert d["escalate"] == []
    assert d["remember"] == {}
    if d["desired_replicas"] == current:
        assert d["actions"] == []
    else:
        assert len(d["actions"]) == 1
        action = d["actions"][0]
        assert action["target"] == "self"
        assert action["effector"] == "resize"
        assert action["args"] == {"replicas": d["desired_replicas"]}
        assert isinstance(action["reason"], str)
    for s in d["symptoms"]:
        assert s["severity"] in {"info", "warning", "critical"}


def make_input(
    cfg: dict[str, Any],
    sensors: dict[str, Any],
    children: list[dict[str, Any]],
    recs: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "now": NOW,
        "entity": {
            "id": "shop/web",
            "name": "web",
            "type": "web-cluster",
            "config": {"scaling": cfg},
            "lifecycle": "running",
            "up": True,
            "sensors": sensors,
            "effectors": ["resize"],
        },
        "children": children,
        "knowledge": {
            "actions": [],
            "remembered": {},
            "history": {"recommendations": recs or [], "scale_events": events or []},
            "cooldowns": {},
        },
        "events": [],
    }


def member(idx: int, lifecycle: str, ready: bool, sensors: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"shop/web/m{idx}", "name": f"m{idx}", "lifecycle": lifecycle, "ready": ready, "sensors": sensors}


# ---------------------------------------------------------------- strategies

UTIL = {"sensor": "cpu", "request_sensor": "cpu_req", "target": {"type": "Utilization", "averageUtilization": 50}}
tolerances = st.sampled_from([0, 0.01, 0.05, 0.1, 0.1, 0.2, 0.5])


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if draw(st.booleans()):
        r["stabilizationWindowSeconds"] = draw(st.sampled_from([0, 15, 60, 300]))
    if draw(st.booleans()):
        r["selectPolicy"] = draw(st.sampled_from(["Max", "Min", "Disabled"]))
    if draw(st.booleans()):
        r["policies"] = [
            {
                "type": draw(st.sampled_from(["Pods", "Percent"])),
                "value": draw(st.integers(min_value=1, max_value=300)),
                "periodSeconds": draw(st.sampled_from([15, 60, 120])),
            }
            for _ in range(draw(st.integers(min_value=1, max_value=3)))
        ]
    return r


@st.composite
def configs(draw: st.DrawFn, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    min_r = draw(st.integers(min_value=0, max_value=4))
    cfg: dict[str, Any] = {
        "min_replicas": min_r,
        "max_replicas": min_r + draw(st.integers(min_value=0, max_value=40)) or 1,
        "metrics": metrics,
        "tolerance": {"scale_up": draw(tolerances), "scale_down": draw(tolerances)},
    }
    if draw(st.booleans()):
        cfg["behavior"] = {d: draw(rules()) for d in ("scaleUp", "scaleDown") if draw(st.booleans())}
    else:
        cfg["downscale_stabilization_window_s"] = draw(st.sampled_from([0, 60, 300]))
        cfg["scale_up_limit_factor"] = draw(st.sampled_from([2, 1.5, 8]))
        cfg["scale_up_limit_minimum"] = draw(st.sampled_from([4, 1, 0]))
    return cfg


@st.composite
def histories(draw: st.DrawFn, max_replicas: int = 60) -> list[dict[str, Any]]:
    ages = draw(st.lists(st.integers(min_value=0, max_value=900), max_size=6))
    return [
        {"replicas": draw(st.integers(min_value=0, max_value=max_replicas)), "time": NOW - age}
        for age in sorted(ages, reverse=True)
    ]


@st.composite
def scale_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    ages = draw(st.lists(st.integers(min_value=1, max_value=200), max_size=5))
    return [
        {"change": draw(st.sampled_from([-8, -3, -1, 1, 2, 5])), "time": NOW - age}
        for age in sorted(ages, reverse=True)
    ]


# metric values in thousandths, so that their milli-values are exact
thousandths = st.integers(min_value=0, max_value=200_000).map(lambda n: n / 1000)
targets = st.integers(min_value=1, max_value=50_000).map(lambda n: n / 1000)
near_one = st.sampled_from([0, 0.5, 0.8, 0.89, 0.9, 0.95, 1, 1.05, 1.1, 1.11, 1.2, 1.5, 3])


@st.composite
def metric_specs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["util", "avg", "value", "self_avg"]))
    if kind == "util":
        return {
            "sensor": "cpu",
            "request_sensor": "cpu_req",
            "target": {"type": "Utilization", "averageUtilization": draw(st.integers(min_value=1, max_value=300))},
        }
    if kind == "avg":
        return {"sensor": "qps", "target": {"type": "AverageValue", "averageValue": draw(targets)}}
    if kind == "value":
        return {"sensor": "load", "source": "self", "target": {"type": "Value", "value": draw(targets)}}
    return {"sensor": "load", "source": "self", "target": {"type": "AverageValue", "averageValue": draw(targets)}}


@st.composite
def members(draw: st.DrawFn, count: int, *, ignored: bool = True, all_ready: bool = False) -> list[dict[str, Any]]:
    lifecycles = ["running"] * 6 + (["starting", "created"] if not all_ready else [])
    if ignored and not all_ready:
        lifecycles += ["stopping", "stopped", "on_fire"]
    out = []
    for idx in range(count):
        sensors: dict[str, Any] = {"cpu_req": draw(st.sampled_from([0.25, 0.5, 1, 2]))}
        for name in ("cpu", "qps"):
            if all_ready or draw(st.integers(min_value=0, max_value=9)) > 0:
                sensors[name] = draw(thousandths)
        ready = True if all_ready else draw(st.integers(min_value=0, max_value=5)) > 0
        out.append(member(idx, draw(st.sampled_from(lifecycles)), ready, sensors))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Any valid configuration, members in any state, any history."""
    metrics = draw(st.lists(metric_specs(), min_size=1, max_size=3))
    cfg = draw(configs(metrics))
    current = draw(st.integers(min_value=0, max_value=50))
    sensors: dict[str, Any] = {"replicas": current, "load": draw(thousandths)}
    if draw(st.booleans()):
        sensors["observed_replicas"] = draw(st.integers(min_value=0, max_value=50))
    children = draw(members(draw(st.integers(min_value=0, max_value=12))))
    return make_input(cfg, sensors, children, draw(histories()), draw(scale_events()))


# ---------------------------------------------------------------- properties


@SETTINGS
@given(doc=scenarios())
def test_never_outside_min_max(doc: dict[str, Any]) -> None:
    cfg = doc["entity"]["config"]["scaling"]
    current = doc["entity"]["sensors"]["replicas"]
    d = decide(doc)
    check_shape(d, current)
    desired = d["desired_replicas"]
    if current == 0 and cfg["min_replicas"] > 0:
        # HPA: a target scaled to zero by hand is left alone
        assert desired == 0
        assert d["reason"] == "scaling disabled"
    else:
        assert cfg["min_replicas"] <= desired <= cfg["max_replicas"], d


def _in_band(ratio: float, tol: dict[str, float]) -> bool:
    """Tolerances.isWithin, in float64."""
    return (1.0 - tol["scale_down"]) <= ratio <= (1.0 + tol["scale_up"])


def _band(scale: float, tol: dict[str, float]) -> tuple[int, int]:
    """The smallest and largest integers v >= 0 with v / scale inside the band (float64)."""
    lo = max(0, int(scale * (1.0 - tol["scale_down"])) - 2)
    while not _in_band(lo / scale, tol) and lo <= scale * 2 + 2:
        lo += 1
    hi = int(scale * (1.0 + tol["scale_up"])) + 2
    while not _in_band(hi / scale, tol) and hi >= 0:
        hi -= 1
    return lo, hi


def _band_value(draw: st.DrawFn, scale: float, tol: dict[str, float]) -> int:
    lo, hi = _band(scale, tol)
    assume(lo <= hi)
    v = draw(st.integers(min_value=lo, max_value=hi))
    assert _in_band(v / scale, tol)
    return v


@st.composite
def in_band_cases(draw: st.DrawFn) -> dict[str, Any]:
    """Every metric's usage ratio inside the tolerance band; all members ready and reporting."""
    tol = {"scale_up": draw(tolerances), "scale_down": draw(tolerances)}
    min_r = draw(st.integers(min_value=0, max_value=5))
    max_r = min_r + draw(st.integers(min_value=1, max_value=30))
    current = draw(st.integers(min_value=max(min_r, 1), max_value=max_r))
    n = current
    kinds = draw(st.lists(st.sampled_from(["util", "avg", "value", "self_avg"]), min_size=1, max_size=3, unique=True))
    metrics: list[dict[str, Any]] = []
    sensors: dict[str, Any] = {"replicas": current, "observed_replicas": current}
    member_sensors: dict[str, Any] = {}
    for kind in kinds:
        if kind == "util":
            t = draw(st.integers(min_value=1, max_value=300))
            util = _band_value(draw, t, tol)
            metrics.append(
                {
                    "sensor": "cpu",
                    "request_sensor": "cpu_req",
                    "target": {"type": "Utilization", "averageUtilization": t},
                }
            )
            member_sensors |= {"cpu": util, "cpu_req": 100}  # util% of the request, exactly
        elif kind == "avg":
            t = draw(st.integers(min_value=1, max_value=50_000))
            v = _band_value(draw, t, tol)
            metrics.append({"sensor": "qps", "target": {"type": "AverageValue", "averageValue": t / 1000}})
            member_sensors["qps"] = v / 1000
        elif kind == "value":
            t = draw(st.integers(min_value=1, max_value=50_000))
            v = _band_value(draw, t, tol)
            metrics.append({"sensor": "load", "source": "self", "target": {"type": "Value", "value": t / 1000}})
            sensors["load"] = v / 1000
        else:
            t = draw(st.integers(min_value=1, max_value=5_000))
            v = _band_value(draw, float(t) * float(current), tol)
            metrics.append(
                {"sensor": "total", "source": "self", "target": {"type": "AverageValue", "averageValue": t / 1000}}
            )
            sensors["total"] = v / 1000
    children = [member(i, "running", True, dict(member_sensors)) for i in range(n)]
    # members being deleted or failed do not count
    children += [member(n + i, "stopping", False, {}) for i in range(draw(st.integers(min_value=0, max_value=2)))]
    cfg: dict[str, Any] = {"min_replicas": min_r, "max_replicas": max_r, "metrics": metrics, "tolerance": tol}
    if draw(st.booleans()):
        cfg["behavior"] = {d: draw(rules()) for d in ("scaleUp", "scaleDown") if draw(st.booleans())}
        recs = draw(histories())
    else:
        # the legacy window keeps the highest recent recommendation: keep them <= current
        recs = draw(histories(max_replicas=current))
    return make_input(cfg, sensors, children, recs, draw(scale_events()))


@SETTINGS
@given(doc=in_band_cases())
def test_no_change_inside_the_tolerance_band(doc: dict[str, Any]) -> None:
    current = doc["entity"]["sensors"]["replicas"]
    d = decide(doc)
    check_shape(d, current)
    assert d["desired_replicas"] == current, d
    assert d["actions"] == []
    assert d["recommendation"] == current
    assert d["reason"] == "within tolerance"


@st.composite
def load_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scenario and the same scenario with more load on one sensor.

    As in HPA, the proposal of a metric is computed on the members that count:
    members are not ignored and there are as many as the current replicas, and
    with a cluster Value metric all of them are ready (HPA multiplies that
    ratio by the ready pods).
    """
    metrics = draw(st.lists(metric_specs(), min_size=1, max_size=2))
    cfg = draw(configs(metrics))
    current = draw(st.integers(min_value=max(1, cfg["min_replicas"]), max_value=max(1, cfg["max_replicas"])))
    has_value = any(m["target"]["type"] == "Value" for m in metrics)
    children = draw(members(current, ignored=False, all_ready=has_value))
    # values near the targets, where the tolerance band and the limits bite
    for m in metrics:
        target = m["target"]
        if target["type"] == "Utilization":
            for c in children:
                if "cpu" in c["sensors"] and draw(st.booleans()):
                    c["sensors"]["cpu"] = round(
                        c["sensors"]["cpu_req"] * target["averageUtilization"] / 100 * draw(near_one), 3
                    )
        elif m.get("source", "members") == "members":
            for c in children:
                if "qps" in c["sensors"] and draw(st.booleans()):
                    c["sensors"]["qps"] = round(target["averageValue"] * draw(near_one), 3)
    cluster_targets = [
        m["target"].get("value", m["target"].get("averageValue", 0) * current)
        for m in metrics
        if m.get("source") == "self"
    ]
    load = draw(thousandths)
    if len(cluster_targets) > 0 and draw(st.booleans()):
        load = round(draw(st.sampled_from(cluster_targets)) * draw(near_one), 3)
    sensors: dict[str, Any] = {"replicas": current, "observed_replicas": current, "load": load}
    recs = draw(st.one_of(st.just([]), histories()))
    before = make_input(cfg, sensors, children, recs, draw(scale_events()))
    bump = draw(st.one_of(st.integers(min_value=1, max_value=500), st.integers(min_value=1, max_value=100_000))) / 1000
    if len(cluster_targets) > 0 and draw(st.booleans()):
        # a step of 1% to 60% of a cluster target: crosses the band edges
        bump = max(
            0.001, round(draw(st.sampled_from(cluster_targets)) * draw(st.integers(min_value=1, max_value=60)) / 100, 3)
        )
    after = make_input(
        cfg,
        dict(sensors),
        [dict(c, sensors=dict(c["sensors"])) for c in children],
        before["knowledge"]["history"]["recommendations"],
        before["knowledge"]["history"]["scale_events"],
    )
    where = draw(
        st.sampled_from(["cluster", "cluster", "cpu", "qps"] if cluster_targets else ["cluster", "cpu", "qps"])
    )
    if where == "cluster":
        after["entity"]["sensors"]["load"] = round(sensors["load"] + bump, 3)
    else:
        reporting = [c for c in after["children"] if where in c["sensors"]]
        assume(reporting)
        target = draw(st.sampled_from(reporting))
        target["sensors"][where] = round(target["sensors"][where] + bump, 3)
    return before, after


@SETTINGS
@given(pair=load_pairs())
def test_more_load_never_gives_fewer_replicas(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    before, after = pair
    current = before["entity"]["sensors"]["replicas"]
    d1, d2 = decide(before), decide(after)
    check_shape(d1, current)
    check_shape(d2, current)
    assert d2["desired_replicas"] >= d1["desired_replicas"], (d1, d2)


# ---------------------------------------------------------------- fixed cases


def test_misconfigured_is_a_no_op() -> None:
    d = decide({})
    assert d["reason"] == "misconfigured"
    assert d["actions"] == []
    assert d["desired_replicas"] is None
    d = decide(make_input({"max_replicas": 5}, {"replicas": 3}, []))
    assert d["reason"] == "misconfigured"
    assert d["desired_replicas"] == 3
    assert d["symptoms"][0]["name"] == "misconfigured"


def test_float64_like_go() -> None:
    """ceil(0.07 * 100) is 8 in Go's float64: 100 members at 7% of a 100% target propose 8."""
    children = [member(i, "running", True, {"cpu": 0.07, "cpu_req": 1}) for i in range(100)]
    cfg = {
        "min_replicas": 1,
        "max_replicas": 200,
        "metrics": [dict(UTIL, target={"type": "Utilization", "averageUtilization": 100})],
    }
    rec = _engine().evaluate_sync(
        "data.autonomic.scaling.recommendations", make_input(cfg, {"replicas": 100}, children)
    )
    assert rec[0]["utilization"] == 7
    assert rec[0]["replicas"] == 8


# ---------------------------------------------------------------- Rego unit tests on the embedded engine


def _rego_test_names() -> list[str]:
    return re.findall(r"^(test_\w+) if", REGO_TESTS.read_text(), re.MULTILINE)


@functools.cache
def _test_engine() -> EmbeddedEngine:
    return EmbeddedEngine.from_paths([POLICIES / "scaling.rego", REGO_TESTS])


@pytest.mark.parametrize("name", _rego_test_names())
def test_rego_unit_test_passes_on_embedded_engine(name: str) -> None:
    assert _test_engine().evaluate_sync(f"data.autonomic.scaling_test.{name}", {}) is True
