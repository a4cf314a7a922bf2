"""Entities over HTTP: the tree, one entity, sensor history, invoking effectors, and every refusal."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import structlog

from autonomic.testing import Harness
from tests.api.conftest import BOB_H, Pump

pytestmark = pytest.mark.anyio


async def test_tree_lists_every_entity_parents_first(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/entities")
    assert r.status_code == 200
    doc = r.json()
    assert doc["root"] == "plant"
    ids = [e["id"] for e in doc["entities"]]
    assert ids == ["plant", "plant/p1", "plant/p2", "plant/mode"]
    plant = doc["entities"][0]
    assert plant == {
        "id": "plant",
        "name": "plant",
        "type": "test-station",
        "parent": None,
        "lifecycle": "running",
        "up": True,
        "ready": True,
        "children": ["plant/p1", "plant/p2", "plant/mode"],
        "managed": True,
        "mode": "enforce",
    }
    assert doc["entities"][1]["managed"] is False and doc["entities"][1]["mode"] is None


async def test_one_entity_in_full(client: httpx.AsyncClient, harness: Harness) -> None:
    r = await client.get("/v1/entities/plant/p2")
    assert r.status_code == 200
    e = r.json()
    assert e["id"] == "plant/p2" and e["type"] == "test-pump" and e["parent"] == "plant"
    assert e["lifecycle"] == {"actual": "running", "expected": "running", "since": 0.0}
    assert e["not_up_reasons"] == {} and e["config"] == {} and e["manager"] is None
    flow = e["sensors"]["flow"]
    assert flow["value"] == 4.0 and flow["unit"] == "l/s" and flow["stale"] is False and flow["export"] is True
    assert flow["type"] == "float" and flow["description"] == "litres per second"
    assert e["sensors"]["pressure"]["value"] is None
    names = [f["name"] for f in e["effectors"]]
    assert names == ["fail", "flush", "restart", "set_flow", "start", "stop"]
    flush = next(f for f in e["effectors"] if f["name"] == "flush")
    assert flush == {
        "name": "flush",
        "params": [
            {"name": "seconds", "type": "float", "required": False, "default": 1.0},
            {"name": "note", "type": "str | None", "required": False, "default": None},
        ],
        "timeout": 60,
        "idempotent": True,
        "cooldown": 30,
        "description": "flush the pipes",
    }
    # A stale sensor reads as null, never as its old value.
    pump = harness.runtime.root.find("plant/p2")
    assert isinstance(pump, Pump)
    pump.flow.mark_stale("meter unreachable")
    flow = (await client.get("/v1/entities/plant/p2")).json()["sensors"]["flow"]
    assert flow["value"] is None and flow["stale"] is True


async def test_managed_entity_shows_its_manager_and_aggregates(client: httpx.AsyncClient) -> None:
    e = (await client.get("/v1/entities/plant")).json()
    assert e["manager"]["mode"] == "enforce" and e["manager"]["packages"] == ["test.plant"]
    assert e["manager"]["interval"] == 5 and e["manager"]["rounds_run"] >= 2
    # p1 was set to 1 by the policy: 1 + 4 + 5
    assert e["sensors"]["total_flow"]["value"] == 10.0


async def test_an_entity_named_like_a_route_keyword_is_reached_encoded(client: httpx.AsyncClient) -> None:
    mode = await client.get("/v1/entities/plant/mode")  # the plant manager's mode
    assert mode.status_code == 200 and mode.json()["entity"] == "plant"
    pump = await client.get("/v1/entities/plant%2Fmode")  # the pump called "mode"
    assert pump.status_code == 200 and pump.json()["id"] == "plant/mode" and pump.json()["type"] == "test-pump"


async def test_sensor_history(client: httpx.AsyncClient, harness: Harness) -> None:
    pump = harness.runtime.root.find("plant/p2")
    assert isinstance(pump, Pump)
    for v in (5.5, 6.5, 7.5):
        await harness.advance(1)
        pump.flow.publish(v)
    r = await client.get("/v1/entities/plant/p2/sensors/flow/history")
    assert r.status_code == 200
    doc = r.json()
    assert doc["entity"] == "plant/p2" and doc["sensor"] == "flow" and doc["unit"] == "l/s" and doc["capacity"] == 16
    assert [p["value"] for p in doc["points"]][-3:] == [5.5, 6.5, 7.5]
    now = harness.clock.now()
    recent = (await client.get("/v1/entities/plant/p2/sensors/flow/history", params={"since": now - 1.5})).json()
    assert [p["value"] for p in recent["points"]] == [6.5, 7.5]
    last = (await client.get("/v1/entities/plant/p2/sensors/flow/history?limit=1")).json()
    assert [(p["time"], p["value"]) for p in last["points"]] == [(now, 7.5)]


async def test_invoke_runs_the_effector_through_the_journal(client: httpx.AsyncClient, harness: Harness) -> None:
    with structlog.testing.capture_logs() as logs:
        r = await client.post("/v1/entities/plant/p2/effectors/set_flow?reason=maintenance", json={"value": 2})
    assert r.status_code == 202, r.text
    a = r.json()
    assert r.headers["location"] == f"/v1/actions/{a['id']}"
    assert a["status"] == "pending" and a["manager"] == "operator:alice" and a["round"] == "manual"
    assert a["target"] == "plant/p2" and a["args"] == {"value": 2.0} and a["reason"] == "maintenance"
    audit = [e for e in logs if e["event"] == "api_invoke"]
    assert audit and audit[0]["subject"] == "alice" and audit[0]["action"] == a["id"]
    await harness.advance(0.1)
    done = (await client.get(f"/v1/actions/{a['id']}")).json()
    assert done["status"] == "ok" and done["result"] == 2.0
    assert (await client.get("/v1/entities/plant/p2")).json()["sensors"]["flow"]["value"] == 2.0


async def test_invoke_with_no_body_and_a_failing_effector(client: httpx.AsyncClient, harness: Harness) -> None:
    r = await client.post("/v1/entities/plant/p1/effectors/fail")
    assert r.status_code == 202
    await harness.advance(0.1)
    done = (await client.get(f"/v1/actions/{r.json()['id']}")).json()
    assert done["status"] == "error" and "broken on purpose" in done["error"]


async def test_gates_hold_an_operator_too(client: httpx.AsyncClient, harness: Harness) -> None:
    first = await client.post("/v1/entities/plant/p1/effectors/flush", json={"seconds": 0.5})
    assert first.status_code == 202 and first.json()["status"] == "pending"
    await harness.advance(1)
    again = await client.post("/v1/entities/plant/p1/effectors/flush", json={})
    assert again.status_code == 202
    held = again.json()
    assert held["status"] == "held" and "cooldown" in held["error"]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/entities/nowhere/effectors/start", {}, 404, "no entity 'nowhere'"),
        (
            "/v1/entities/plant/p1/effectors/explode",
            {},
            404,
            "effector 'explode' is not declared by plant/p1; declared: fail, flush,",
        ),
        ("/v1/entities/plant/p1/effectors/set_flow", {}, 422, "missing argument 'value' (float)"),
        ("/v1/entities/plant/p1/effectors/set_flow", {"value": "lots"}, 422, "must be float, got str"),
        ("/v1/entities/plant/p1/effectors/set_flow", {"value": True}, 422, "must be float, got bool"),
        ("/v1/entities/plant/p1/effectors/set_flow", {"value": 1, "extra": 2}, 422, "unknown argument(s) extra"),
        ("/v1/entities/plant/p1/effectors/set_flow", [1], 422, "must be a JSON object of the effector's arguments"),
        ("/v1/entities/plant/p1/effectors/set_flow", "1", 422, "must be a JSON object"),
    ],
)
async def test_invoke_refusals(client: httpx.AsyncClient, path: str, body: object, status: int, message: str) -> None:
    r = await client.post(path, json=body)
    assert r.status_code == status, r.text
    doc = r.json()
    assert set(doc) == {"error", "detail"}
    assert message in doc["error"]


async def test_invoke_bad_bodies(client: httpx.AsyncClient) -> None:
    url = "/v1/entities/plant/p1/effectors/set_flow"
    cases = [
        (b'{"value": ', {}, 400, "malformed JSON"),
        (b'{"value": NaN}', {}, 400, "NaN is not JSON"),
        (b"value=1", {"content-type": "application/x-www-form-urlencoded"}, 415, "the body must be JSON"),
        (b"x" * 70_000, {}, 413, "the limit is 65536"),
        (b"", {"content-length": "banana"}, 400, "Content-Length"),
    ]
    for body, headers, status, message in cases:
        r = await client.post(url, content=body, headers=headers)
        assert r.status_code == status, (body[:20], r.text)
        assert message in r.json()["error"]


async def test_reading_is_everyones_acting_needs_a_grant(
    anon: Callable[[], httpx.AsyncClient], harness: Harness
) -> None:
    async with anon() as c:
        assert (await c.get("/v1/entities", headers=BOB_H)).status_code == 200
        with structlog.testing.capture_logs() as logs:
            r = await c.post("/v1/entities/plant/p1/effectors/set_flow", json={"value": 1}, headers=BOB_H)
        assert r.status_code == 403
        assert (
            r.json()["error"]
            == 'subject "bob" may not invoke plant/p1.set_flow: no grant in package autonomic.authz allows it'
        )
        assert any(e["event"] == "api_denied" and e["subject"] == "bob" for e in logs)
        # Nothing was journaled for the refused call.
        assert not [a for a in harness.store.all_actions if a.manager == "operator:bob"]


async def test_tokens_are_required(anon: Callable[[], httpx.AsyncClient]) -> None:
    async with anon() as c:
        r = await c.get("/v1/entities")
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="autonomic"'
        assert r.json()["error"] == "missing bearer token (send Authorization: Bearer <token>)"
        r = await c.get("/v1/entities", headers={"authorization": "Bearer not-a-real-token-at-all"})
        assert r.status_code == 401 and r.json()["error"] == "invalid token"
        r = await c.get("/v1/entities", headers={"authorization": "Basic YWxpY2U6eA=="})
        assert r.status_code == 401
        # Refused before the body is read: a huge body from a stranger costs nothing.
        r = await c.post("/v1/entities/plant/effectors/start", content=b"x" * 100_000)
        assert r.status_code == 401


async def test_unknown_entities_and_sensors_are_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/entities/plant/p9")
    assert r.status_code == 404 and r.json() == {"error": "no entity 'plant/p9'", "detail": {"root": "plant"}}
    r = await client.get("/v1/entities/plant/p1/sensors/rpm/history")
    assert r.status_code == 404
    assert r.json()["error"] == "plant/p1 has no sensor 'rpm'; declared: flow, healthy, hours, label, pressure"
    r = await client.get("/v1/entities/plant/p1/sensors/flow/history?limit=0")
    assert r.status_code == 400
