"""The router: greedy entity ids, suffix routes, encoded slashes, 404 and 405, query parameters."""

from __future__ import annotations

from typing import Any

import pytest

import autonomic.api
from autonomic.api.app import all_routes
from autonomic.api.http import HttpError, parse_json
from autonomic.api.routing import QueryParam, Route, Router, path_segments


async def _nothing(req: Any) -> Any:
    raise AssertionError("not called")


def _scope(raw: bytes) -> dict[str, Any]:
    return {"path": raw.decode("latin-1"), "raw_path": raw}


@pytest.fixture
def router() -> Router:
    return Router(all_routes())


def match(router: Router, method: str, raw: bytes) -> tuple[str, dict[str, str]]:
    route, params = router.match(method, path_segments(_scope(raw)))
    return route.name, params


def test_entity_ids_with_slashes_and_suffix_routes(router: Router) -> None:
    assert match(router, "GET", b"/v1/entities") == ("list_entities", {})
    assert match(router, "GET", b"/v1/entities/shop") == ("get_entity", {"id": "shop"})
    assert match(router, "GET", b"/v1/entities/shop/eu/web/m3") == ("get_entity", {"id": "shop/eu/web/m3"})
    assert match(router, "GET", b"/v1/entities/shop/eu/web/mode") == ("get_mode", {"id": "shop/eu/web"})
    assert match(router, "PUT", b"/v1/entities/shop/web/mode") == ("set_mode", {"id": "shop/web"})
    assert match(router, "POST", b"/v1/entities/shop/web/effectors/resize") == (
        "invoke_effector",
        {"id": "shop/web", "name": "resize"},
    )
    assert match(router, "GET", b"/v1/entities/shop/web/m1/sensors/rps/history") == (
        "sensor_history",
        {"id": "shop/web/m1", "name": "rps"},
    )
    assert match(router, "GET", b"/v1/actions/A000000001/why") == ("why_action", {"id": "A000000001"})


def test_encoded_slashes_keep_an_id_in_one_segment(router: Router) -> None:
    # An entity whose name is a route keyword is reached with its slashes encoded.
    assert match(router, "GET", b"/v1/entities/shop%2Fmode") == ("get_entity", {"id": "shop/mode"})
    assert match(router, "GET", b"/v1/entities/shop%2Fmode/mode") == ("get_mode", {"id": "shop/mode"})
    assert match(router, "POST", b"/v1/entities/a%2Fb%2Fc/effectors/go") == (
        "invoke_effector",
        {"id": "a/b/c", "name": "go"},
    )


def test_unknown_paths_are_404_and_wrong_methods_405(router: Router) -> None:
    for raw in (b"/", b"/v2/entities", b"/v1/entities/", b"/v1/actions/A1/why/not", b"/v1//entities"):
        with pytest.raises(HttpError) as exc:
            match(router, "GET", raw)
        assert exc.value.status == 404, raw
        assert "no route" in exc.value.message
    with pytest.raises(HttpError) as exc:
        match(router, "GET", b"/v1/entities/shop/effectors/resize")
    assert exc.value.status == 405 and ("allow", "POST") in exc.value.headers
    with pytest.raises(HttpError) as exc:
        match(router, "DELETE", b"/v1/entities/shop/mode")
    assert exc.value.status == 405 and ("allow", "GET, PUT") in exc.value.headers


def test_bad_paths_are_400() -> None:
    for raw in (b"/v1/entities/\xff", b"/v1/entities/%ff%fe", b"v1/entities"):
        with pytest.raises(HttpError) as exc:
            path_segments(_scope(raw))
        assert exc.value.status == 400


def test_query_parameters_are_declared_checked_and_converted() -> None:
    route = Route(
        method="GET",
        pattern="/x",
        handler=_nothing,
        name="x",
        summary="x",
        query=(
            QueryParam(name="limit", kind="int", default=100, minimum=1, maximum=1000),
            QueryParam(name="since", kind="float"),
            QueryParam(name="status", kind="choice", choices=("ok", "error")),
            QueryParam(name="types", kind="choices", choices=("round", "action")),
            QueryParam(name="entity"),
        ),
    )
    assert route.parse_query(b"") == {"limit": 100, "since": None, "status": None, "types": None, "entity": None}
    got = route.parse_query(b"limit=5&since=1.5&status=ok&types=action,round,action&entity=shop%2Fweb")
    assert got == {"limit": 5, "since": 1.5, "status": "ok", "types": ("action", "round"), "entity": "shop/web"}
    bad = {
        b"limit=0": "at least 1",
        b"limit=5000": "at most 1000",
        b"limit=1.5": "must be an integer",
        b"since=nan": "must be finite",
        b"since=1e999": "must be finite",
        b"since=yesterday": "must be a number",
        b"status=fine": "must be one of ok, error",
        b"types=round,nope": "comma-separated list",
        b"types=": "comma-separated list",
        b"limt=5": "unknown query parameter 'limt'; accepted: limit, since, status, types, entity",
        b"limit=1&limit=2": "more than once",
        b"entity=%ff": "not valid UTF-8",
        b"&".join(b"entity=%d" % i for i in range(40)): "bad query string",
        b"entity=" + b"x" * 2000: "longer than",
    }
    for qs, message in bad.items():
        with pytest.raises(HttpError) as exc:
            route.parse_query(qs)
        assert exc.value.status == 400
        assert message in exc.value.message, (qs, exc.value.message)


def test_duplicate_routes_are_refused() -> None:
    r = Route(method="GET", pattern="/x", handler=_nothing, name="x", summary="x")
    with pytest.raises(ValueError, match="declared twice"):
        Router((r, r))
    with pytest.raises(ValueError, match="more than one greedy"):
        Route(method="GET", pattern="/{a...}/{b...}", handler=_nothing, name="y", summary="y")


def test_json_bodies_are_strict() -> None:
    assert parse_json(b"") is None
    assert parse_json(b' {"a": [1, 2.5, null]} ') == {"a": [1, 2.5, None]}
    for body, message in {
        b"{": "malformed JSON",
        b"{'a': 1}": "malformed JSON",
        b'{"a": NaN}': "NaN is not JSON",
        b'{"a": Infinity}': "Infinity is not JSON",
        b'{"a": 1e999}': "out of range",
        b"\xff\xfe": "not UTF-8",
        b"[" * 100_000 + b"]" * 100_000: "malformed JSON",
        b"1" * 5000: "malformed JSON",
    }.items():
        with pytest.raises(HttpError) as exc:
            parse_json(body)
        assert exc.value.status == 400
        assert message in exc.value.message, (body[:20], exc.value.message)


def test_the_package_exports_resolve() -> None:
    for name in autonomic.api.__all__:
        assert getattr(autonomic.api, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = autonomic.api.nothing
