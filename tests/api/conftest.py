"""A small plant under management, its API context and an in-process client.

The tree is ``plant`` (a station, managed by ``test.plant``) with pumps
``p1``, ``p2`` and one called ``mode`` (to prove ids that collide with route
keywords can still be addressed). Tokens: ``alice`` may invoke, switch
modes under ``plant`` and approve; ``bob`` may only read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from autonomic import Aggregate, Entity, ManagerSettings, Sensor, effector
from autonomic.api.app import ApiApp
from autonomic.api.auth import TokenSet
from autonomic.api.authz import load_authorizer
from autonomic.api.context import ApiContext
from autonomic.errors import PermanentEffectorError
from autonomic.observability import Metrics
from autonomic.testing import Harness, managed

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef"
ALICE_H = {"authorization": f"Bearer {ALICE}"}
BOB_H = {"authorization": f"Bearer {BOB}"}

GRANTS = """package autonomic.authz

import rego.v1

grants contains {"subject": "alice", "actions": ["invoke", "set_mode"], "entities": ["plant", "plant/**"]}

grants contains {"subject": "alice", "actions": ["approve"]}
"""

POLICY = """package test.plant

import rego.v1

decision := {
	"symptoms": [{"name": "high_flow", "severity": "warning", "detail": {"total": input.entity.sensors.total_flow}}],
	"actions": [{"target": "plant/p1", "effector": "set_flow", "args": {"value": 1}, "reason": "too much flow"}],
} if {
	input.entity.sensors.total_flow > 10
}
"""


class Pump(Entity, type_name="test-pump"):
    """A pump with a flow the API can read and set."""

    flow = Sensor(float, unit="l/s", export=True, nullable=True, description="litres per second")
    hours = Sensor(int, export=True, nullable=True)
    healthy = Sensor(bool, export=True, nullable=True)
    label = Sensor(str, export=True, nullable=True)
    pressure = Sensor(float, nullable=True)

    @effector(timeout=5, idempotent=True, description="set the flow")
    async def set_flow(self, value: float) -> float:
        """Set the flow (at once)."""
        self.flow.publish(value)
        return value

    @effector(timeout=5, idempotent=False, description="always fails")
    async def fail(self) -> None:
        """Fail on purpose."""
        raise PermanentEffectorError("broken on purpose")

    @effector(timeout=60, idempotent=True, cooldown=30, description="flush the pipes")
    async def flush(self, seconds: float = 1.0, note: str | None = None) -> None:
        """Take ``seconds`` of scenario time."""
        await self.clock.sleep(seconds)


class Station(Entity, type_name="test-station"):
    """The plant: its pumps' total flow."""

    total_flow = Sensor(float, enricher=Aggregate("flow", "sum"), export=True)

    @effector(timeout=10, idempotent=True, description="spread a target flow")
    async def rebalance(self, target: float, note: str | None = None) -> str:
        """Spread ``target`` over the pumps."""
        pumps = [c for c in self.children if isinstance(c, Pump)]
        for p in pumps:
            p.flow.publish(target / len(pumps))
        return f"{len(pumps)} pumps at {target / len(pumps):g}"


def build_plant() -> Station:
    """The test tree."""
    plant = Station("plant")
    for name in ("p1", "p2", "mode"):
        plant.add_child(Pump(name))
    return plant


@pytest.fixture
def grants_file(tmp_path: Path) -> Path:
    """The operator's authz file."""
    path = tmp_path / "grants.rego"
    path.write_text(GRANTS)
    return path


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    """The plant, managed on a virtual clock, after its first rounds."""
    plant = build_plant()
    settings = ManagerSettings(interval=5, min_gap=0.5)
    async with managed(plant, {"plant": ("test.plant", settings)}, policies={"plant.rego": POLICY}) as h:
        for i, p in enumerate(plant.children):  # attached: published on the virtual clock
            assert isinstance(p, Pump)
            p.flow.publish(3.0 + i)
            p.hours.publish(100 * (i + 1))
            p.healthy.publish(True)
            p.label.publish(f"pump {i}")
        await h.advance(12)
        yield h


@pytest.fixture
def ctx(harness: Harness, grants_file: Path) -> ApiContext:
    """The API context of the running plant."""
    tokens = TokenSet.parse([("test", f"alice:{ALICE}"), ("test", f"bob:{BOB}")])
    authorizer = load_authorizer([grants_file], clock=harness.clock)
    return ApiContext(runtime=harness.runtime, metrics=Metrics(), tokens=tokens, authorizer=authorizer)


@pytest.fixture
def app(ctx: ApiContext) -> ApiApp:
    """The ASGI app."""
    return ApiApp(ctx)


@pytest.fixture
async def client(app: ApiApp) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client, authenticated as alice."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=ALICE_H) as c:
        yield c


@pytest.fixture
def anon(app: ApiApp) -> Callable[[], httpx.AsyncClient]:
    """A factory of unauthenticated in-process clients (use ``async with``)."""
    return lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


async def raw_request(
    app: Any,
    method: str,
    path: bytes,
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    chunk: int = 65536,
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Call the ASGI app directly, as a client that leaves once its body is sent (the path is raw bytes)."""
    messages: list[dict[str, Any]] = []
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    sent = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent < len(chunks):
            sent += 1
            return {"type": "http.request", "body": chunks[sent - 1], "more_body": sent < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path.decode("latin-1"),
        "raw_path": path,
        "query_string": query,
        "headers": headers or [],
        "client": ("127.0.0.1", 1),
        "server": ("api", 80),
        "scheme": "http",
        "root_path": "",
    }
    with anyio.fail_after(10):
        await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body_out
