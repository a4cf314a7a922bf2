"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import attrs
import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from autonomic.api.app import ApiApp
from autonomic.api.context import ApiContext
from autonomic.knowledge.sqlite import SQLiteStore
from autonomic.observability import Metrics
from autonomic.testing import Harness
from tests.api.conftest import ALICE_H, BOB_H, Pump

pytestmark = pytest.mark.anyio


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


async def test_health_is_open(anon: Callable[[], httpx.AsyncClient]) -> None:
    async with anon() as c:
        r = await c.get("/healthz")
        assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["uptime_s"] >= 0
        r = await c.get("/readyz")
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["ready"] is True
        assert doc["checks"]["managers"] == {"ok": True, "running": 1, "expected": 1}
        assert doc["checks"]["store"] == {"ok": True}


async def test_not_ready_when_the_store_fails_or_the_api_stops(
    anon: Callable[[], httpx.AsyncClient], ctx: ApiContext
) -> None:
    real = ctx.knowledge.store
    ctx.knowledge.store = SQLiteStore(":memory:")  # never opened: every query fails
    try:
        async with anon() as c:
            r = await c.get("/readyz")
    finally:
        ctx.knowledge.store = real
    assert r.status_code == 503
    doc = r.json()
    assert doc["ready"] is False and doc["checks"]["store"]["ok"] is False
    assert "store is not open" in doc["checks"]["store"]["error"]
    ctx.bus.close()
    async with anon() as c:
        assert (await c.get("/readyz")).json()["checks"]["api"] == {"ok": False}


async def test_metrics_need_a_token_and_export_sensors(
    anon: Callable[[], httpx.AsyncClient], ctx: ApiContext, harness: Harness
) -> None:
    ctx.metrics.rounds.labels("interval").inc(3)
    async with anon() as c:
        assert (await c.get("/metrics")).status_code == 401
        r = await c.get("/metrics", headers=BOB_H)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert samples(r.text, "autonomic_rounds_total") == {(("trigger", "interval"),): 3.0}
    got = samples(r.text, "autonomic_sensor_value")
    expected = {
        (("entity", "plant"), ("sensor", "total_flow")): 10.0,
        (("entity", "plant/p1"), ("sensor", "flow")): 1.0,
        (("entity", "plant/p1"), ("sensor", "hours")): 100.0,
        (("entity", "plant/p1"), ("sensor", "healthy")): 1.0,
        (("entity", "plant/p2"), ("sensor", "flow")): 4.0,
        (("entity", "plant/p2"), ("sensor", "hours")): 200.0,
        (("entity", "plant/p2"), ("sensor", "healthy")): 1.0,
        (("entity", "plant/mode"), ("sensor", "flow")): 5.0,
        (("entity", "plant/mode"), ("sensor", "hours")): 300.0,
        (("entity", "plant/mode"), ("sensor", "healthy")): 1.0,
    }
    assert got == expected  # strings (label) and unexported sensors (pressure) are left out
    # Stale and unknown values disappear rather than read as zero; aggregates are computed when scraped.
    p1, p2 = harness.runtime.root.find("plant/p1"), harness.runtime.root.find("plant/p2")
    assert isinstance(p1, Pump) and isinstance(p2, Pump)
    p1.flow.publish(0.5)
    p2.flow.mark_stale("meter down")
    p2.hours.publish(None)
    async with anon() as c:
        got = samples((await c.get("/metrics", headers=ALICE_H)).text, "autonomic_sensor_value")
    assert (("entity", "plant/p2"), ("sensor", "flow")) not in got
    assert (("entity", "plant/p2"), ("sensor", "hours")) not in got
    assert got[(("entity", "plant"), ("sensor", "total_flow"))] == 0.5 + 5.0


async def test_metrics_can_be_public(ctx: ApiContext) -> None:
    public = attrs.evolve(ctx, public_metrics=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=ApiApp(public)), base_url="http://api") as c:
        assert (await c.get("/metrics")).status_code == 200
        assert (await c.get("/v1/entities")).status_code == 401


def test_the_grafana_dashboard_uses_metrics_that_exist() -> None:
    """Every metric the dashboard queries is one the supervisor (or the sensor collector) exports."""
    text = generate_latest(Metrics().registry).decode()
    known = {"autonomic_sensor_value"}
    for kind_line in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        name, kind = kind_line
        known.add(name)
        if kind == "counter":
            known.add(f"{name}_total")
        if kind == "histogram":
            known |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v.get("query"), dict)]
    used = {m for e in exprs for m in re.findall(r"\bautonomic_[a-z_]+", e)}
    assert used and used <= known, sorted(used - known)
    assert len(exprs) >= 20
