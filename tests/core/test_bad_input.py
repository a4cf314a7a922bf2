"""Every class of bad input gives a clear error and a journal entry, and the loop keeps running."""

from __future__ import annotations

import math

import pytest

from autonomic import ManagementSpec, ManagerSettings, PolicyBinding
from autonomic.testing import Harness, managed
from tests.core.entities_for_tests import Cluster, cluster_with

ACT = """package test.act
import rego.v1
decision := {{"actions": [{action}]}} if input.entity.sensors.demand > 0
"""


def spec(package: str = "test.act") -> ManagementSpec:
    return ManagementSpec(bindings=(PolicyBinding(package=package),), settings=ManagerSettings(interval=5))


async def run(
    policy: str, c: Cluster | None = None, seconds: float = 30, package: str = "test.act"
) -> tuple[Cluster, Harness]:
    c = c or cluster_with(2)
    if c.demand.value is None:
        c.set_demand(10.0)
    async with managed(c, {"c": spec(package)}, policies={"p.rego": policy}) as h:
        await h.advance(seconds)
    return c, h


def assert_loop_kept_running(h: Harness, seconds: float = 30, interval: float = 5) -> None:
    assert len(h.rounds("c")) >= seconds / interval


@pytest.mark.anyio
async def test_rego_runtime_error_is_journaled_and_the_loop_goes_on() -> None:
    policy = 'package test.act\nimport rego.v1\ndecision := {"x": 1 / (input.entity.sensors.demand - 10)}\n'
    c = cluster_with(2)
    c.set_demand(10.0)
    async with managed(c, {"c": spec()}, policies={"p.rego": policy}) as h:
        await h.advance(12)
        errors = h.errors()
        assert errors and all(r.error_kind == "policy" for r in errors)
        assert "p.rego:3:" in (errors[0].error or "") and "divide by zero" in (errors[0].error or "")
        c.set_demand(11.0)  # the policy works again: rounds succeed
        await h.advance(12)
    assert h.rounds("c")[-1].error is None
    assert_loop_kept_running(h, 24)


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        ('"resize please"', "expected an object, got string"),
        ('{"actions": {"target": "self"}}', "actions: expected an array"),
        ('{"actions": [{"target": "self"}]}', "actions[0].effector: missing"),
        ('{"symptoms": [{"name": "x", "severity": "apocalyptic"}]}', "is not one of info, warning, critical"),
        ('{"escalate": [{"detail": 1}]}', "escalate[0].symptom: missing"),
        ('{"remember": [1, 2]}', "remember: expected an object"),
        ('{"actions": [{"target": "self", "effector": "resize", "args": "three"}]}', "args: expected an object"),
    ],
)
@pytest.mark.anyio
async def test_output_not_matching_the_contract(decision: str, message: str) -> None:
    policy = f"package test.act\nimport rego.v1\ndecision := {decision}\n"
    c, h = await run(policy)
    errs = h.errors()
    assert errs and all(r.error_kind == "decision" for r in errs)
    assert message in (errs[0].error or ""), errs[0].error
    assert "data.test.act.decision" in (errs[0].error or "")
    assert c.calls == [] and h.actions() == []
    assert_loop_kept_running(h)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ('{"target": "self", "effector": "rezise", "args": {"replicas": 3}}', "effector 'rezise' is not declared by c"),
        ('{"target": "c/nope", "effector": "resize", "args": {"replicas": 3}}', "unknown target 'c/nope'"),
        ('{"target": "elsewhere", "effector": "resize"}', "unknown target 'elsewhere'"),
        ('{"target": "self", "effector": "resize", "args": {"replicas": "3"}}', "must be int, got str"),
        ('{"target": "self", "effector": "resize", "args": {}}', "missing argument 'replicas'"),
        (
            '{"target": "self", "effector": "resize", "args": {"replicas": 3, "force": true}}',
            "unknown argument(s) force",
        ),
        ('{"target": "self", "effector": "take_problems"}', "effector 'take_problems' is not declared"),
    ],
)
@pytest.mark.anyio
async def test_unknown_effector_target_or_bad_arguments(action: str, message: str) -> None:
    # A valid action first: the whole decision is refused, so it must not run either.
    valid = '{"target": "self", "effector": "nudge", "args": {"amount": 1}}'
    c, h = await run(ACT.format(action=f"{valid}, {action}"))
    errs = h.errors()
    assert errs and errs[0].error_kind == "decision"
    assert message in (errs[0].error or ""), errs[0].error
    assert "actions[1]" in (errs[0].error or "")
    assert c.calls == [] and h.actions() == []
    assert_loop_kept_running(h)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None])
@pytest.mark.anyio
async def test_nan_none_and_infinite_sensor_values(bad: float | None) -> None:
    policy = """package test.act
import rego.v1
decision := {"symptoms": [{"name": "no_demand", "severity": "warning", "detail": null}]} if input.entity.sensors.total_load == null
decision := {"symptoms": [{"name": "ok", "severity": "info"}]} if input.entity.sensors.total_load != null
"""
    c = cluster_with(2)
    c.set_demand(10.0)
    async with managed(c, {"c": spec()}, policies={"p.rego": policy}) as h:
        await h.advance(6)
        c.child("seed0").publish("load", bad)
        c.child("seed1").publish("load", bad)
        await h.advance(10)
    problems = [p for r in h.rounds("c") for p in r.problems]
    assert problems, "the bad values must be journaled"
    assert all(p.startswith("c/seed") and "sensor load" in p for p in problems)
    assert h.errors() == []
    # The aggregate leaves unknown values out: the sum of no values is 0, never NaN.
    assert c.sensor_values()["total_load"] == 0.0
    assert_loop_kept_running(h, 16)


@pytest.mark.anyio
async def test_effector_that_raises_becomes_an_error_outcome() -> None:
    c, h = await run(ACT.format(action='{"target": "self", "effector": "explode", "args": {"why": "disk full"}}'))
    outcomes = h.actions(effector="explode")
    assert outcomes and outcomes[0].status.value == "error"
    assert outcomes[0].error == "PermanentEffectorError: disk full"
    assert c.calls.count("explode") >= 2  # not retried in the same round, but later rounds may decide again
    assert_loop_kept_running(h)


@pytest.mark.anyio
async def test_effector_that_hangs_times_out_and_releases_its_target() -> None:
    hang_then_nudge = ACT.format(
        action='{"target": "self", "effector": "hang"}, {"target": "self", "effector": "nudge", "args": {"amount": 2}}'
    )
    c, h = await run(hang_then_nudge, seconds=30)
    hangs = h.actions(effector="hang")
    assert hangs[0].status.value == "timeout" and "timeout of 2 s" in (hangs[0].error or "")
    assert hangs[0].duration == pytest.approx(2.0)
    nudges = h.actions(effector="nudge")
    assert nudges[0].status.value == "skipped" and "ended timeout" in (nudges[0].error or "")
    # while the hang was in flight, later decisions were held, then ran again after the timeout
    held = [a for a in hangs if a.status.value == "held"]
    assert held and "in flight" in (held[0].error or "")
    assert sum(1 for a in hangs if a.status.value == "timeout") >= 2
    assert_loop_kept_running(h)


@pytest.mark.anyio
async def test_cooldown_holds_repeated_calls() -> None:
    c, h = await run(ACT.format(action='{"target": "self", "effector": "nudge", "args": {"amount": 1}}'), seconds=60)
    statuses = [(a.status.value, a.requested) for a in h.actions(effector="nudge")]
    ok_times = [t for s, t in statuses if s == "ok"]
    assert len(ok_times) >= 2 and all(b - a >= 30 for a, b in zip(ok_times, ok_times[1:], strict=False))
    held = [a for a in h.actions(effector="nudge") if a.status.value == "held"]
    assert held and "cooldown" in (held[0].error or "")
    assert c.calls.count("nudge(1.0)") == len(ok_times)
