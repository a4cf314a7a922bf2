"""Random requests never get a 500 and never crash the app: every refusal is a 4xx with a message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autonomic.api.app import ApiApp, all_routes
from autonomic.testing import Harness
from tests.api.conftest import ALICE, BOB, raw_request

SEGMENTS = [
    "v1", "entities", "plant", "p1", "p2", "mode", "effectors", "sensors", "history", "flow", "hours",
    "set_flow", "flush", "fail", "rebalance", "start", "stop", "actions", "rounds", "why", "approve", "reject",
    "events", "metrics", "healthz", "readyz", "openapi.json", "A000000001", "R000000001", "", "..", ".",
    "%2F", "%ff", "%00", "plant%2Fp1", "plant%2Fmode", "%E2%82%AC", "a b", "?", "#",
]  # fmt: skip

QUERY_KEYS = ["limit", "since", "until", "entity", "status", "types", "timeout", "reason", "x", ""]
QUERY_VALUES = [
    "1",
    "0",
    "-1",
    "5000",
    "1.5",
    "nan",
    "inf",
    "1e999",
    "ok",
    "round,action",
    "plant",
    "%ff",
    "",
    "x" * 1100,
]

ROUTE_SHAPES = [
    "/v1/entities", "/v1/entities/{id}", "/v1/entities/{id}/mode", "/v1/entities/{id}/effectors/{name}",
    "/v1/entities/{id}/sensors/{name}/history", "/v1/rounds", "/v1/actions", "/v1/actions/{action}",
    "/v1/actions/{action}/why", "/v1/actions/{action}/approve", "/v1/actions/{action}/reject", "/v1/events",
    "/metrics", "/healthz", "/readyz", "/openapi.json",
]  # fmt: skip
ENTITY_IDS = ["plant", "plant/p1", "plant/p2", "plant%2Fmode", "plant/mode", "plant/nope", "nope", "plant//p1", "%ff"]
NAMES = ["set_flow", "flush", "fail", "rebalance", "start", "stop", "restart", "flow", "hours", "label", "nope", ""]
ACTIONS = ["A000000001", "A000000002", "A999999999", "R000000001", "x", "%00"]

segment = st.one_of(st.sampled_from(SEGMENTS), st.text(max_size=12))
shaped = st.builds(
    lambda shape, i, n, a: shape.replace("{id}", i).replace("{name}", n).replace("{action}", a).encode(),
    st.sampled_from(ROUTE_SHAPES),
    st.sampled_from(ENTITY_IDS),
    st.sampled_from(NAMES),
    st.sampled_from(ACTIONS),
)
raw_path = st.one_of(
    shaped,
    shaped,
    st.lists(segment, max_size=8).map(lambda parts: ("/" + "/".join(parts)).encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
)
query = st.one_of(
    st.just(b""),
    st.lists(st.tuples(st.sampled_from(QUERY_KEYS), st.sampled_from(QUERY_VALUES)), min_size=1, max_size=3).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode()
    ),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["value", "mode", "seconds", "target", "note", "x"]), inner, max_size=4)
    ),
    max_leaves=10,
)
body = st.one_of(
    json_value.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b'{"mode": NaN}', b"[" * 5000, b"x" * 70_000, b'{"value": 1e999}']),
)
headers = st.fixed_dictionaries(
    {
        "auth": st.sampled_from([None, f"Bearer {ALICE}", f"Bearer {BOB}", "Bearer nope", "Basic x", "", "Bearer"]),
        "ctype": st.sampled_from([None, "application/json", "text/plain", "application/json; charset=utf-8", "\x00"]),
        "length": st.sampled_from([None, "-1", "banana", "99999999", "0"]),
    }
)
method = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW"])


async def _check(
    app: ApiApp, harness: Harness, method: str, path: bytes, qs: bytes, data: bytes, h: list[tuple[bytes, bytes]]
) -> None:
    status, _, out = await raw_request(app, method, path, query=qs, headers=h, body=data, chunk=4096)
    assert 200 <= status < 500, (method, path, qs, data[:80], status, out[:300])
    event(f"status {status}")
    if status >= 400:
        doc = json.loads(out)
        assert set(doc) == {"error", "detail"} and isinstance(doc["error"], str) and doc["error"]
    # Effectors that random invocations started run on; the app keeps serving meanwhile.
    await harness.advance(0.5)
    alive, _, _ = await raw_request(app, "GET", b"/healthz")
    assert alive == 200


_FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.anyio
@_FUZZ
@given(method=method, path=raw_path, qs=query, data=body, hdr=headers)
async def test_random_requests_get_answers_below_500(
    app: ApiApp, harness: Harness, method: str, path: bytes, qs: bytes, data: bytes, hdr: dict[str, Any]
) -> None:
    h: list[tuple[bytes, bytes]] = []
    if hdr["auth"] is not None:
        h.append((b"authorization", hdr["auth"].encode("latin-1")))
    if hdr["ctype"] is not None:
        h.append((b"content-type", hdr["ctype"].encode("latin-1")))
    if hdr["length"] is not None:
        h.append((b"content-length", hdr["length"].encode()))
    await _check(app, harness, method, path, qs, data, h)


@pytest.mark.anyio
@_FUZZ
@given(
    route=st.sampled_from([(r.method, r.pattern) for r in all_routes() if r.name != "events"]),
    entity=st.sampled_from(ENTITY_IDS),
    name=st.sampled_from(NAMES),
    action=st.sampled_from(ACTIONS),
    qs=st.one_of(st.just(b""), st.just(b""), query),
    data=st.one_of(json_value.map(lambda v: json.dumps(v).encode()), st.just(b"")),
    token=st.sampled_from([ALICE, ALICE, BOB]),
)
async def test_plausible_requests_get_answers_below_500(
    app: ApiApp,
    harness: Harness,
    route: tuple[str, str],
    entity: str,
    name: str,
    action: str,
    qs: bytes,
    data: bytes,
    token: str,
) -> None:
    method, pattern = route
    path = pattern.replace("{id...}", entity).replace("{name}", name).replace("{id}", action).encode()
    h = [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]
    await _check(app, harness, method, path, qs, data, h)
