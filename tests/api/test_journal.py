"""The journal over HTTP: rounds, actions, filters, "why?", and approvals."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from autonomic.testing import Harness
from tests.api.conftest import BOB_H, Pump

pytestmark = pytest.mark.anyio


async def test_rounds_newest_first_with_filters(client: httpx.AsyncClient, harness: Harness) -> None:
    r = await client.get("/v1/rounds")
    assert r.status_code == 200
    rounds = r.json()["rounds"]
    journaled = harness.rounds("plant")
    assert [x["id"] for x in rounds] == [x.id for x in reversed(journaled)]
    first = rounds[-1]
    assert first["entity"] == "plant" and first["policy_version"] and first["input_digest"]
    assert first["decision"]["symptoms"][0]["name"] == "high_flow"
    assert len((await client.get("/v1/rounds?limit=2")).json()["rounds"]) == 2
    since = journaled[1].started
    assert [x["id"] for x in (await client.get(f"/v1/rounds?since={since}")).json()["rounds"]] == [
        x.id for x in reversed(journaled) if x.started >= since
    ]
    until = (await client.get(f"/v1/rounds?until={journaled[0].started}")).json()["rounds"]
    assert [x["id"] for x in until] == [journaled[0].id]
    assert (await client.get("/v1/rounds?entity=plant/p1")).json()["rounds"] == []


async def test_actions_with_filters(client: httpx.AsyncClient, harness: Harness) -> None:
    await client.post("/v1/entities/plant/p2/effectors/fail")
    await harness.advance(0.1)
    actions = (await client.get("/v1/actions")).json()["actions"]
    assert [a["effector"] for a in actions] == ["fail", "set_flow"]
    assert [a["id"] for a in (await client.get("/v1/actions?status=error")).json()["actions"]] == [actions[0]["id"]]
    assert [a["effector"] for a in (await client.get("/v1/actions?entity=plant/p1")).json()["actions"]] == ["set_flow"]
    assert [a["effector"] for a in (await client.get("/v1/actions?entity=operator:alice")).json()["actions"]] == [
        "fail"
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "must be at least 1"),
        ("limit=100000", "must be at most 1000"),
        ("limit=ten", "must be an integer"),
        ("since=soon", "must be a number"),
        ("since=10&until=5", "since (10) is after until (5)"),
        ("status=great", "must be one of pending, running, ok"),
        ("entity=a&entity=b", "more than once"),
        ("order=asc", "unknown query parameter 'order'"),
    ],
)
async def test_bad_journal_queries_are_400(client: httpx.AsyncClient, query: str, message: str) -> None:
    r = await client.get(f"/v1/actions?{query}")
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]


async def test_one_action_and_unknown_ids(client: httpx.AsyncClient) -> None:
    actions = (await client.get("/v1/actions")).json()["actions"]
    one = await client.get(f"/v1/actions/{actions[0]['id']}")
    assert one.status_code == 200 and one.json() == actions[0]
    for path in ("/v1/actions/A999999999", "/v1/actions/nope/why", "/v1/actions/%00"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert "in the journal" in r.json()["error"]


async def test_why_a_policy_acted(client: httpx.AsyncClient, harness: Harness) -> None:
    policy_action = harness.actions(effector="set_flow")[0]
    w = (await client.get(f"/v1/actions/{policy_action.id}/why")).json()
    first_round = harness.rounds("plant")[0]
    assert w["action"]["id"] == policy_action.id
    assert w["invoked_by"] == {"manager": "plant"}
    assert w["round"]["id"] == first_round.id == policy_action.round_id
    assert w["round"]["input_digest"] == first_round.input_digest
    assert w["trigger"] == first_round.trigger
    assert w["policy_version"] == first_round.policy_version == harness.runtime.engine.version
    assert w["symptoms"] == [{"name": "high_flow", "severity": "warning", "detail": {"total": 12}}]
    assert w["decided"] == {
        "target": "plant/p1",
        "effector": "set_flow",
        "args": {"value": 1},
        "reason": "too much flow",
    }
    assert w["reason"] == "too much flow" and w["plan"] == [policy_action.id] and w["other_actions"] == []
    assert w["outcome"]["status"] == "ok" and w["outcome"]["final"] is True and w["outcome"]["result"] == 1.0


async def test_why_an_operator_acted(client: httpx.AsyncClient, harness: Harness) -> None:
    a = (await client.post("/v1/entities/plant/effectors/rebalance", json={"target": 9, "note": "test"})).json()
    await harness.advance(0.1)
    w = (await client.get(f"/v1/actions/{a['id']}/why")).json()
    assert w["invoked_by"] == {"operator": "alice"} and w["round"] is None and w["trigger"] == "operator"
    assert w["outcome"]["status"] == "ok" and w["outcome"]["result"] == "3 pumps at 3"


async def test_approvals(client: httpx.AsyncClient, harness: Harness, anon: Callable[[], httpx.AsyncClient]) -> None:
    assert (await client.put("/v1/entities/plant/mode", json={"mode": "approve"})).status_code == 200
    pump = harness.runtime.root.find("plant/p2")
    assert isinstance(pump, Pump)
    pump.flow.publish(9.0)  # total 15: the policy wants p1 at 1 again
    await harness.advance(6)
    waiting = (await client.get("/v1/actions?status=awaiting_approval")).json()["actions"]
    assert len(waiting) == 1 and waiting[0]["effector"] == "set_flow"
    aid = waiting[0]["id"]
    async with anon() as c:
        r = await c.post(f"/v1/actions/{aid}/approve", headers=BOB_H)
        assert r.status_code == 403 and 'subject "bob" may not approve action' in r.json()["error"]
    r = await client.post(f"/v1/actions/{aid}/approve")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and "(approved by alice)" in r.json()["reason"]
    await harness.advance(0.1)
    assert (await client.get(f"/v1/actions/{aid}")).json()["status"] == "ok"
    again = await client.post(f"/v1/actions/{aid}/reject")
    assert again.status_code == 409 and again.json()["error"] == f"action {aid} is not awaiting approval (it is ok)"
    assert (await client.post("/v1/actions/A999999999/approve")).status_code == 404


async def test_reject(client: httpx.AsyncClient, harness: Harness) -> None:
    await client.put("/v1/entities/plant/mode", json={"mode": "approve"})
    pump = harness.runtime.root.find("plant/p2")
    assert isinstance(pump, Pump)
    pump.flow.publish(9.0)
    await harness.advance(6)
    aid = (await client.get("/v1/actions?status=awaiting_approval")).json()["actions"][0]["id"]
    r = await client.post(f"/v1/actions/{aid}/reject")
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["error"] == "rejected by alice"
