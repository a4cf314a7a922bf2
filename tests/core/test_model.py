"""The entity model: sensors, effectors, config, lifecycle, children, enrichers."""

from __future__ import annotations

import math

import attrs
import pytest

from autonomic import (
    Aggregate,
    ConfigError,
    Count,
    Entity,
    Lifecycle,
    QuorumUp,
    Rate,
    Rolling,
    Sensor,
    effector,
)
from autonomic.effector import check_args
from tests.core.entities_for_tests import Cluster, Member, cluster_with


class Probe(Entity, type_name="probe"):
    temp = Sensor(float, unit="C", description="temperature")
    count = Sensor(int)
    flag = Sensor(bool)
    label = Sensor(str, nullable=True)
    doc = Sensor(dict)
    total = Sensor(float)
    rate = Sensor(float, enricher=Rate("total"))
    avg = Sensor(float, enricher=Rolling("temp", window_s=10, fn="mean"))
    peak = Sensor(float, enricher=Rolling("temp", window_s=10, fn="max"))


def test_sensor_declarations_and_publish() -> None:
    p = Probe("p")
    assert set(p.sensor_specs) >= {"temp", "count", "flag", "label", "doc", "rate", "avg"}
    assert p.sensor_specs["temp"].unit == "C"
    p.temp.publish(21.5, time=1.0)
    p.count.publish(3.0, time=1.0)  # an integral float is an int
    assert p.temp.value == 21.5 and p.temp.time == 1.0
    assert p.count.value == 3 and isinstance(p.count.value, int)
    assert p.take_problems() == []


@pytest.mark.parametrize(
    ("sensor", "value", "problem"),
    [
        ("temp", math.nan, "non-finite"),
        ("temp", math.inf, "non-finite"),
        ("temp", -math.inf, "non-finite"),
        ("temp", None, "None"),
        ("temp", "hot", "expected a number"),
        ("temp", True, "expected a number"),
        ("count", 2.5, "expected an integer"),
        ("flag", 1, "expected a bool"),
        ("doc", {"a": math.nan}, "non-finite"),
        ("doc", {1: "x"}, "keys must be strings"),
    ],
)
def test_bad_sensor_values_are_rejected_and_reported(sensor: str, value: object, problem: str) -> None:
    p = Probe("p")
    p.sensor(sensor).publish(value, time=1.0)
    s = p.sensor(sensor)
    assert s.value is None  # unknown to policies, never the bad value
    problems = p.take_problems()
    assert len(problems) == 1 and problem in problems[0] and sensor in problems[0]
    # The same problem again is not reported twice; a good value clears it.
    p.sensor(sensor).publish(value, time=2.0)
    assert p.take_problems() == []


def test_nullable_sensor_accepts_none_silently() -> None:
    p = Probe("p")
    p.label.publish(None)
    assert p.take_problems() == []


def test_history_is_bounded_and_ordered() -> None:
    class H(Entity, type_name="h"):
        v = Sensor(float, history=4)

    h = H("h")
    for t in range(10):
        h.v.publish(float(t), time=float(t))
    assert list(h.v.history) == [(6.0, 6.0), (7.0, 7.0), (8.0, 8.0), (9.0, 9.0)]
    assert h.v.history.since(8.0) == [(8.0, 8.0), (9.0, 9.0)]


def test_rate_and_rolling_enrichers() -> None:
    p = Probe("p")
    p.total.publish(100.0, time=0.0)
    p.total.publish(130.0, time=10.0)
    assert p.rate.value == pytest.approx(3.0)
    p.total.publish(5.0, time=20.0)  # counter reset: no rate for this step
    assert p.rate.value == pytest.approx(3.0)
    for t, v in [(0, 10.0), (5, 20.0), (12, 30.0)]:
        p.temp.publish(v, time=float(t))
    # window 10 s at t=12 holds t=5 and t=12
    assert p.avg.value == pytest.approx(25.0)
    assert p.peak.value == 30.0


def test_child_aggregates_are_recomputed_lazily() -> None:
    class Group(Entity, type_name="group"):
        total = Sensor(float, enricher=Aggregate("load", "sum"))
        mean = Sensor(float, enricher=Aggregate("load", "mean"))
        low = Sensor(float, enricher=Aggregate("load", "min"))
        high = Sensor(float, enricher=Aggregate("load", "max"))
        n_values = Sensor(int, enricher=Aggregate("load", "count"))
        n = Sensor(int, enricher=Count())
        n_up = Sensor(int, enricher=Count("up"))
        quorum = Sensor(bool, enricher=QuorumUp("majority"))

    g = Group("g")
    ms = [g.add_child(Member(f"m{i}")) for i in range(3)]
    for m, v in zip(ms, [1.0, 2.0, 6.0], strict=True):
        assert isinstance(m, Member)
        m.load.publish(v)
    vals = g.sensor_values()
    assert vals["total"] == 9.0 and vals["mean"] == 3.0 and vals["low"] == 1.0 and vals["high"] == 6.0
    assert vals["n_values"] == 3 and vals["n"] == 3
    assert vals["n_up"] == 0 and vals["quorum"] is False  # nothing is running yet
    for m in ms[:2]:
        m.set_lifecycle(Lifecycle.RUNNING)
    assert g.sensor_values()["n_up"] == 2 and g.sensor_values()["quorum"] is True
    g.remove_child("m2")
    assert g.sensor_values()["total"] == 3.0


def test_quorum_variants() -> None:
    for quorum, ups, expected in [("all", 3, True), ("all", 2, False), ("any", 1, True), (2, 2, True), (0.5, 1, False)]:

        class Q(Entity, type_name="q"):
            ok = Sensor(bool, enricher=QuorumUp(quorum))

        q = Q("q")
        for i in range(3):
            m = q.add_child(Member(f"m{i}"))
            if i < ups:
                m.set_lifecycle(Lifecycle.RUNNING)
        assert q.sensor_values()["ok"] is expected, (quorum, ups)


def test_ids_are_paths_and_children_move() -> None:
    root = Entity("shop")
    site = root.add_child(Entity("eu"))
    c = site.add_child(cluster_with(2))
    assert c.id == "shop/eu/c"
    assert c.child("seed1").id == "shop/eu/c/seed1"
    assert root.find("shop/eu/c/seed0") is c.child("seed0")
    assert root.find("shop/nope") is None
    with pytest.raises(ValueError, match="already has a child"):
        site.add_child(Entity("c"))
    moved = site.remove_child("c")
    assert moved.id == "c" and moved.child("seed0").id == "c/seed0" and moved.parent is None
    with pytest.raises(ValueError, match="must match"):
        Entity("bad/name")


def test_config_is_typed_and_checked() -> None:
    c = Cluster("c", {"target": 5})
    assert c.config.target == 5.0 and c.config_json == {"target": 5.0, "resize_delay_s": 1.0}
    with pytest.raises(ConfigError, match=r"config.target"):
        Cluster("c", {"target": "high"})
    with pytest.raises(ConfigError, match="extra fields"):
        Cluster("c", {"targett": 5})


def test_lifecycle_up_ready() -> None:
    m = Member("m")
    assert m.lifecycle.actual is Lifecycle.CREATED and not m.up and not m.ready
    m.set_lifecycle(Lifecycle.RUNNING, expected=Lifecycle.RUNNING)
    assert m.up and m.ready
    m.set_ready(False)
    assert m.up and not m.ready
    m.set_not_up("probe", "connection refused")
    assert not m.up and m.not_up_reasons == {"probe": "connection refused"}
    m.clear_not_up("probe")
    m.set_ready(True)
    assert m.ready
    m.set_lifecycle(Lifecycle.ON_FIRE)
    assert not m.up and m.lifecycle.expected is Lifecycle.RUNNING


def test_effector_declarations_and_argument_checks() -> None:
    specs = Cluster("c").effector_specs
    assert {"start", "stop", "restart", "resize", "nudge"} <= set(specs)
    nudge = specs["nudge"]
    assert nudge.timeout == 5 and nudge.idempotent and nudge.cooldown == 30
    assert check_args(nudge, {"amount": 2}) == {"amount": 2.0}
    assert check_args(specs["resize"], {"replicas": 3.0}) == {"replicas": 3}
    for bad, msg in [
        ({}, "missing argument 'amount'"),
        ({"amount": "x"}, "must be float"),
        ({"amount": True}, "must be float"),
        ({"amount": 1, "extra": 2}, "unknown argument"),
        ({"amount": 1, "note": 5}, "must be str | None"),
    ]:
        with pytest.raises(ValueError, match=msg):
            check_args(nudge, bad)
    with pytest.raises(ValueError, match="must be int"):
        check_args(specs["resize"], {"replicas": 2.5})


def test_effector_decorator_rejects_bad_declarations() -> None:
    with pytest.raises(TypeError, match="async"):
        effector(timeout=1, idempotent=True)(lambda self: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="timeout"):
        effector(timeout=0, idempotent=True)

    async def untyped(self, x):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(TypeError, match="annotation"):
        effector(timeout=1, idempotent=True)(untyped)


@pytest.mark.anyio
async def test_start_and_stop_walk_the_tree() -> None:
    c = cluster_with(3)
    await c.start()
    assert c.lifecycle.actual is Lifecycle.RUNNING
    assert all(m.lifecycle.actual is Lifecycle.RUNNING for m in c.children)
    await c.stop()
    assert all(m.lifecycle.actual is Lifecycle.STOPPED for m in [c, *c.children])


def test_frozen_config_values() -> None:
    c = Cluster("c")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        c.config.target = 3  # type: ignore[misc]
