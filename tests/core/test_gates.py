"""Safety gates: approve mode, rate limits, blast radius, circuit breaker; each says so in the journal."""

from __future__ import annotations

import pytest

from autonomic import ManagementSpec, ManagerSettings, Mode, PolicyBinding
from autonomic.mape.settings import GateSettings, RateLimit
from autonomic.testing import Harness, managed
from tests.core.entities_for_tests import cluster_with

RESTART_ALL = """package gates
import rego.v1
decision := {"actions": [{"target": c.id, "effector": "restart", "reason": "test"} | some c in input.children]}
"""

NUDGE = """package gates
import rego.v1
decision := {"actions": [{"target": "self", "effector": "explode"}]}
"""


def spec(gates: GateSettings | None = None, mode: Mode = Mode.ENFORCE, interval: float = 5) -> ManagementSpec:
    return ManagementSpec(
        bindings=(PolicyBinding(package="gates"),),
        settings=ManagerSettings(interval=interval, mode=mode, gates=gates or GateSettings()),
    )


def held(h: Harness, needle: str) -> list[str]:
    return [a.error or "" for a in h.actions() if a.status.value == "held" and needle in (a.error or "")]


@pytest.mark.anyio
async def test_approve_mode_holds_until_approved_rejected_or_expired() -> None:
    from tests.core.test_loop import SCALE

    c = cluster_with(1, target=10.0)
    c.set_demand(30.0)
    gates = GateSettings(approval_timeout_s=60)
    spec_ = ManagementSpec(
        bindings=(PolicyBinding(package="test.scale"),),
        settings=ManagerSettings(interval=10, mode=Mode.APPROVE, gates=gates),
    )
    async with managed(c, {"c": spec_}, policies={"s.rego": SCALE}) as h:
        await h.advance(25)
        ex = h.runtime.executor
        (first,) = ex.awaiting_approval()  # asked every round, one request
        assert first.status.value == "awaiting_approval" and "awaiting approval until" in (first.error or "")
        assert c.calls == [] and first.args == {"replicas": 3}
        await ex.approve(first.id, "alice")
        await h.advance(5)
        assert c.calls == ["resize(3)"] and ex.awaiting_approval() == []
        c.set_demand(50.0)
        await h.advance(10)
        (second,) = ex.awaiting_approval()
        rejected = await ex.reject(second.id, "bob")
        assert rejected.status.value == "rejected" and rejected.error == "rejected by bob"
        await h.advance(10)
        (third,) = ex.awaiting_approval()  # the policy still wants it: asked again
        await h.advance(61)  # nobody approves it
        await ex.expire_approvals()
        with pytest.raises(KeyError):
            await ex.approve(third.id, "alice")
    statuses = {a.id: a.status.value for a in h.store.all_actions}
    assert statuses[first.id] == "ok" and statuses[second.id] == "rejected" and statuses[third.id] == "expired"
    ok = next(a for a in h.store.all_actions if a.id == first.id)
    assert "approved by alice" in ok.reason
    assert c.calls == ["resize(3)"]


@pytest.mark.anyio
async def test_blast_radius_limits_the_share_of_members_acted_on() -> None:
    c = cluster_with(10)
    gates = GateSettings(blast_radius_share=0.3, blast_radius_window_s=120)
    async with managed(c, {"c": spec(gates)}, policies={"g.rego": RESTART_ALL}) as h:
        await h.advance(3)
        everything = h.actions(effector="restart")
        first_round = [a for a in everything if a.round_id == everything[0].round_id]
        await h.advance(200)
    ran = [a for a in first_round if a.status.value not in ("held", "skipped")]
    assert len(ran) == 3  # 30% of 10
    assert first_round[3].status.value == "held" and "blast radius: 3 of 10 members" in (first_round[3].error or "")
    assert all(a.status.value == "skipped" for a in first_round[4:])
    # within the window no fourth member is touched; after it, members may be acted on again
    oks = [a for a in h.actions(effector="restart") if a.status.value == "ok"]
    in_window = {a.target for a in oks if a.requested < first_round[0].requested + 120}
    assert len(in_window) == 3 and len(oks) > 3


@pytest.mark.anyio
async def test_rate_limits_per_effector_and_per_entity() -> None:
    c = cluster_with(4)
    gates = GateSettings(effector_rate={"restart": RateLimit(max_calls=2, window_s=60)})
    async with managed(c, {"c": spec(gates)}, policies={"g.rego": RESTART_ALL}) as h:
        await h.advance(50)
    ok = [a for a in h.actions(effector="restart") if a.status.value == "ok"]
    assert len(ok) == 2
    assert held(h, "rate limit of restart: 2 per 60 s reached")

    c = cluster_with(1)
    gates = GateSettings(entity_rate=RateLimit(max_calls=1, window_s=100))
    async with managed(c, {"c": spec(gates)}, policies={"g.rego": RESTART_ALL}) as h:
        await h.advance(150)
    ok = [a for a in h.actions(effector="restart") if a.status.value == "ok"]
    assert len(ok) == 2  # t≈0 and t≈100
    assert held(h, "rate limit of c/seed0: 1 actions per 100 s reached")


@pytest.mark.anyio
async def test_circuit_breaker_opens_after_repeated_failures_and_half_opens() -> None:
    c = cluster_with(1)
    gates = GateSettings(breaker_failures=3, breaker_reset_s=60)
    async with managed(c, {"c": spec(gates, interval=5)}, policies={"g.rego": NUDGE}) as h:
        await h.advance(40)
        assert c.calls.count("explode") == 3
        assert held(h, "circuit breaker open for test-cluster.explode after 3 failures")
        await h.advance(60)
    # after the reset one call tries again (half-open), fails, and the circuit opens again
    assert c.calls.count("explode") >= 4
    statuses = [a.status.value for a in h.actions(effector="explode")]
    assert statuses[:3] == ["error", "error", "error"]


def test_gate_settings_come_from_blueprints(tmp_path: object) -> None:
    from autonomic.blueprint import parse_blueprint

    bp = parse_blueprint(
        """
entity:
  type: tests.core.entities_for_tests:Cluster
  policies: [autonomic.failover]
  manager:
    mode: approve
    gates:
      effector_rate: {restart: {max_calls: 2, window_s: 60}}
      blast_radius_share: 0.25
      breaker_failures: 4
"""
    )
    _, managed_ = bp.build()
    ((_, s),) = managed_
    assert s.settings.mode is Mode.APPROVE
    assert s.settings.gates.effector_rate["restart"] == RateLimit(max_calls=2, window_s=60)
    assert s.settings.gates.blast_radius_share == 0.25 and s.settings.gates.breaker_failures == 4
