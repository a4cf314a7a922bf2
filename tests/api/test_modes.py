"""A manager's mode over HTTP: read, switch (persisted, effective), and every refusal."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import structlog

from autonomic.mape.settings import Mode
from autonomic.testing import Harness
from tests.api.conftest import BOB_H

pytestmark = pytest.mark.anyio


async def test_get_mode(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/entities/plant/mode")
    assert r.status_code == 200
    assert r.json() == {"entity": "plant", "mode": "enforce", "configured": "enforce", "modes": [m.value for m in Mode]}


async def test_pause_stops_rounds_and_is_persisted(client: httpx.AsyncClient, harness: Harness) -> None:
    with structlog.testing.capture_logs() as logs:
        r = await client.put("/v1/entities/plant/mode", json={"mode": "paused"})
    assert r.status_code == 200 and r.json()["mode"] == "paused" and r.json()["configured"] == "enforce"
    assert any(e["event"] == "api_set_mode" and e["previous"] == "enforce" for e in logs)
    assert (await harness.store.load_state("plant"))["mode"] == "paused"  # written at once, not at the next round
    before = len(harness.rounds("plant"))
    await harness.advance(30)
    assert len(harness.rounds("plant")) == before
    assert (await client.put("/v1/entities/plant/mode", json={"mode": "enforce"})).json()["mode"] == "enforce"
    await harness.advance(30)
    assert len(harness.rounds("plant")) > before


async def test_dry_run_journals_without_acting(client: httpx.AsyncClient, harness: Harness) -> None:
    await client.put("/v1/entities/plant/mode", json={"mode": "dry-run"})
    p2 = harness.runtime.root.find("plant/p2")
    assert p2 is not None
    p2.publish("flow", 9.0)
    await harness.advance(6)
    latest = (await client.get("/v1/actions?limit=1")).json()["actions"][0]
    assert latest["status"] == "dry_run"
    assert (await client.get("/v1/entities/plant/p1")).json()["sensors"]["flow"]["value"] == 1.0


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"mode": "turbo"}, 422, "unknown mode 'turbo'; expected one of enforce, dry-run"),
        ({"mode": 3}, 422, "expected a string"),
        ({"mode": "paused", "why": "x"}, 422, "extra fields"),
        ({}, 422, 'the body must be {"mode": ...}'),
        (["paused"], 422, 'the body must be {"mode": ...}'),
        (None, 422, 'the body must be {"mode": ...}'),
    ],
)
async def test_bad_mode_changes(client: httpx.AsyncClient, body: object, status: int, message: str) -> None:
    r = (
        await client.put("/v1/entities/plant/mode", json=body)
        if body is not None
        else await client.put("/v1/entities/plant/mode")
    )
    assert r.status_code == status, r.text
    assert message in r.json()["error"], r.json()
    assert (await client.get("/v1/entities/plant/mode")).json()["mode"] == "enforce"


async def test_unmanaged_unknown_and_forbidden(
    client: httpx.AsyncClient, anon: Callable[[], httpx.AsyncClient]
) -> None:
    r = await client.get("/v1/entities/plant/p1/mode")
    assert (
        r.status_code == 404
        and r.json()["error"] == "plant/p1 is not managed (no policies are bound to it), so it has no mode"
    )
    assert (await client.put("/v1/entities/ghost/mode", json={"mode": "paused"})).status_code == 404
    async with anon() as c:
        r = await c.put("/v1/entities/plant/mode", json={"mode": "paused"}, headers=BOB_H)
        assert r.status_code == 403 and "may not set_mode plant (to mode paused)" in r.json()["error"]
        assert (await c.get("/v1/entities/plant/mode", headers=BOB_H)).json()["mode"] == "enforce"
    assert (await client.post("/v1/entities/plant/mode", json={"mode": "paused"})).status_code == 405
