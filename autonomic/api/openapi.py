"""``GET /openapi.json``: an OpenAPI 3.1 document of every route.

Paths, methods, path and query parameters come from the route table (so they
cannot drift); what each operation takes and returns is written here, by
hand, per operation name. A route without an entry here is a programming
error, caught by :func:`build_openapi` and by the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autonomic import __version__
from autonomic.api.events import EVENT_KINDS
from autonomic.api.http import JsonResponse, Request, Response
from autonomic.api.routing import QueryParam, Route
from autonomic.knowledge.records import ActionStatus
from autonomic.mape.settings import Mode

__all__ = ["OPERATIONS", "SCHEMAS", "build_openapi", "openapi_path", "openapi_route"]


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: Sequence[str] = (), /, **props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


_NUM = {"type": "number"}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}
_ANY: dict[str, Any] = {}
_NULL_NUM = {"type": ["number", "null"]}
_NULL_STR = {"type": ["string", "null"]}
_STRS = {"type": "array", "items": _STR}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(["error", "detail"], error={**_STR, "description": "what is wrong, for people"}, detail=_ANY),
    "EntitySummary": _obj(
        ["id", "name", "type", "lifecycle", "up", "ready", "children", "managed"],
        id=_STR,
        name=_STR,
        type=_STR,
        parent=_NULL_STR,
        lifecycle={"type": "string", "enum": ["created", "starting", "running", "stopping", "stopped", "on_fire"]},
        up=_BOOL,
        ready=_BOOL,
        children=_STRS,
        managed=_BOOL,
        mode={"type": ["string", "null"], "enum": [*(m.value for m in Mode), None]},
    ),
    "EntityList": _obj(["root", "entities"], root=_STR, entities={"type": "array", "items": _ref("EntitySummary")}),
    "Sensor": _obj(
        ["value", "time", "unit", "stale"],
        value={**_ANY, "description": "null when unknown, stale or rejected"},
        time=_NULL_NUM,
        unit=_STR,
        stale=_BOOL,
        type=_STR,
        description=_STR,
        problem=_NULL_STR,
        export=_BOOL,
    ),
    "EffectorSpec": _obj(
        ["name", "params", "timeout", "idempotent"],
        name=_STR,
        params={
            "type": "array",
            "items": _obj(["name", "type", "required"], name=_STR, type=_STR, required=_BOOL, default=_ANY),
        },
        timeout=_NUM,
        idempotent=_BOOL,
        cooldown=_NUM,
        description=_STR,
    ),
    "Manager": _obj(
        ["mode", "configured_mode", "packages"],
        mode=_STR,
        configured_mode=_STR,
        packages=_STRS,
        interval=_NUM,
        min_gap=_NUM,
        rounds_run=_INT,
        last_lag_s=_NULL_NUM,
    ),
    "Entity": {
        "allOf": [
            _ref("EntitySummary"),
            _obj(
                ["config", "lifecycle", "not_up_reasons", "sensors", "effectors", "manager"],
                depends_on=_STRS,
                config=_ANY,
                lifecycle=_obj(["actual", "expected", "since"], actual=_STR, expected=_STR, since=_NUM),
                not_up_reasons={"type": "object", "additionalProperties": _STR},
                sensors={"type": "object", "additionalProperties": _ref("Sensor")},
                effectors={"type": "array", "items": _ref("EffectorSpec")},
                manager={"oneOf": [_ref("Manager"), {"type": "null"}]},
            ),
        ]
    },
    "SensorHistory": _obj(
        ["entity", "sensor", "points"],
        entity=_STR,
        sensor=_STR,
        unit=_STR,
        capacity=_INT,
        points={"type": "array", "items": _obj(["time", "value"], time=_NUM, value=_ANY)},
    ),
    "EffectorArgs": {
        "type": "object",
        "description": "the effector's arguments by parameter name (see the entity's effector specs)",
        "additionalProperties": True,
    },
    "Action": _obj(
        ["id", "round", "manager", "target", "effector", "args", "status"],
        id=_STR,
        round={**_STR, "description": "the deciding round's id, or 'manual' for an operator's action"},
        manager={**_STR, "description": "the deciding manager's entity id, or operator:<subject>"},
        target=_STR,
        effector=_STR,
        args={"type": "object"},
        reason=_STR,
        status={"type": "string", "enum": [s.value for s in ActionStatus]},
        idempotent=_BOOL,
        requested=_NUM,
        started=_NULL_NUM,
        finished=_NULL_NUM,
        duration=_NULL_NUM,
        error=_NULL_STR,
        result=_ANY,
    ),
    "ActionList": _obj(["actions"], actions={"type": "array", "items": _ref("Action")}),
    "Round": _obj(
        ["id", "entity", "started", "finished", "trigger", "mode"],
        id=_STR,
        entity=_STR,
        started=_NUM,
        finished=_NUM,
        trigger=_STR,
        mode=_STR,
        input_digest=_STR,
        policy_version=_STR,
        decision={"type": ["object", "null"]},
        error=_NULL_STR,
        error_kind=_NULL_STR,
        problems=_STRS,
        actions=_STRS,
        timings={"type": "object", "additionalProperties": _NUM},
    ),
    "RoundList": _obj(["rounds"], rounds={"type": "array", "items": _ref("Round")}),
    "Why": _obj(
        ["action", "invoked_by", "round", "symptoms", "outcome"],
        action=_ref("Action"),
        invoked_by=_obj(operator=_STR, manager=_STR, recovery_of=_STR),
        round={"type": ["object", "null"], "description": "the deciding round; null for an operator's action"},
        trigger=_NULL_STR,
        policy_version=_NULL_STR,
        symptoms={"type": "array", "items": {"type": "object"}},
        decision={"type": ["object", "null"]},
        decided={"type": ["object", "null"], "description": "the decision's entry for this action"},
        reason=_STR,
        plan=_STRS,
        other_actions=_STRS,
        outcome=_obj(["status", "final"], status=_STR, final=_BOOL, error=_NULL_STR, result=_ANY),
    ),
    "Mode": _obj(
        ["entity", "mode", "configured", "modes"],
        entity=_STR,
        mode=_STR,
        configured=_STR,
        modes=_STRS,
    ),
    "ModeChange": _obj(["mode"], mode={"type": "string", "enum": [m.value for m in Mode]}),
    "Health": _obj(["status"], status=_STR, version=_STR, uptime_s=_NUM),
    "Ready": _obj(["ready", "checks"], ready=_BOOL, checks={"type": "object"}),
}

_JSON = "application/json"


def _ok(schema: str, description: str = "OK", status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}}


def _err(*codes: int) -> dict[str, Any]:
    words = {
        400: "bad query or body",
        401: "no valid bearer token",
        403: "the authorization policy says no",
        404: "no such entity, sensor, effector, action or route",
        413: "body too large",
        415: "body is not JSON",
        409: "the action is not awaiting approval",
        422: "body does not fit",
        503: "not ready, or not running actions now",
    }
    return {str(c): {"description": words[c], "content": {_JSON: {"schema": _ref("Error")}}} for c in codes}


#: per operation name: description, request body schema, responses
OPERATIONS: dict[str, dict[str, Any]] = {
    "healthz": {"description": "Alive: the supervisor answers. No token needed.", "responses": _ok("Health")},
    "readyz": {
        "description": "Ready: the tree is attached, every managed entity has its manager, the store answers. No token needed.",
        "responses": {
            **_ok("Ready"),
            "503": {"description": "not ready", "content": {_JSON: {"schema": _ref("Ready")}}},
        },
    },
    "metrics": {
        "description": "Prometheus text format: the supervisor's metrics and `autonomic_sensor_value{entity,sensor}` "
        "for exported numeric sensors.",
        "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": _STR}}}, **_err(401, 403)},
    },
    "list_entities": {
        "description": "Every entity, parents before children.",
        "responses": {**_ok("EntityList"), **_err(401, 403)},
    },
    "get_entity": {
        "description": "One entity: config, lifecycle, sensors, effector specs, its manager.",
        "responses": {**_ok("Entity"), **_err(401, 403, 404)},
    },
    "sensor_history": {
        "description": "The points kept for one sensor, oldest first.",
        "responses": {**_ok("SensorHistory"), **_err(400, 401, 403, 404)},
    },
    "invoke_effector": {
        "description": "Invoke a declared effector through the executor's gates (cooldowns, one action in flight "
        "per target) and journal. Returns the action as journaled (pending, or held with the reason); the outcome "
        "follows in the journal. Authorized as `invoke`.",
        "request": "EffectorArgs",
        "responses": {**_ok("Action", "accepted and journaled", "202"), **_err(400, 401, 403, 404, 413, 415, 422, 503)},
    },
    "get_mode": {"description": "A manager's mode.", "responses": {**_ok("Mode"), **_err(401, 403, 404)}},
    "set_mode": {
        "description": "Switch a manager's mode (persisted at once). Authorized as `set_mode`.",
        "request": "ModeChange",
        "responses": {**_ok("Mode"), **_err(400, 401, 403, 404, 413, 415, 422)},
    },
    "list_rounds": {
        "description": "Journaled rounds, newest first.",
        "responses": {**_ok("RoundList"), **_err(400, 401, 403)},
    },
    "list_actions": {
        "description": "Journaled actions, newest first.",
        "responses": {**_ok("ActionList"), **_err(400, 401, 403)},
    },
    "get_action": {
        "description": "One action's latest journal record.",
        "responses": {**_ok("Action"), **_err(401, 403, 404)},
    },
    "why_action": {
        "description": "Why an action was taken: the round that decided it (trigger, input digest, policy version), "
        "its symptoms and decision, and the outcome.",
        "responses": {**_ok("Why"), **_err(401, 403, 404)},
    },
    "approve_action": {
        "description": "Run an action that waits for approval (its manager is in approve mode); the gates still "
        "apply. Authorized as `approve` (resource.verdict `approve`).",
        "responses": {**_ok("Action"), **_err(401, 403, 404, 409)},
    },
    "reject_action": {
        "description": "Refuse an action that waits for approval. Authorized as `approve` (resource.verdict `reject`).",
        "responses": {**_ok("Action"), **_err(401, 403, 404, 409)},
    },
    "events": {
        "description": "Server-sent events (`round`, `action`, `lifecycle`; `dropped` when the client fell behind). "
        f"Kinds: {', '.join(EVENT_KINDS)}.",
        "responses": {
            "200": {"description": "an event stream", "content": {"text/event-stream": {"schema": _STR}}},
            **_err(400, 401, 403),
        },
    },
    "openapi": {"description": "This document. No token needed.", "responses": {"200": {"description": "OK"}}},
}

_KIND_SCHEMA: dict[str, dict[str, Any]] = {"str": _STR, "int": _INT, "float": _NUM}


def _query_schema(q: QueryParam) -> dict[str, Any]:
    if q.kind == "choice":
        return {"type": "string", "enum": list(q.choices)}
    if q.kind == "choices":
        return {"type": "string", "description": f"comma-separated: {', '.join(q.choices)}"}
    schema = dict(_KIND_SCHEMA[q.kind])
    if q.minimum is not None:
        schema["minimum"] = q.minimum
    if q.maximum is not None:
        schema["maximum"] = q.maximum
    if q.default is not None:
        schema["default"] = q.default
    return schema


def openapi_path(pattern: str) -> str:
    """The OpenAPI path of a route pattern (``{id...}`` becomes ``{id}``)."""
    return pattern.replace("...}", "}")


def build_openapi(routes: Sequence[Route]) -> dict[str, Any]:
    """The document for ``routes``; raises ``KeyError`` naming a route without documentation."""
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        doc = OPERATIONS.get(r.name)
        if doc is None:
            raise KeyError(f"route {r.name} ({r.method} {r.pattern}) is not documented in autonomic.api.openapi")
        params: list[dict[str, Any]] = []
        for seg in r.segments:
            if seg.param:
                desc = "an entity id; its '/' may be sent as is or as %2F" if seg.greedy else f"the {seg.text}"
                params.append({"name": seg.text, "in": "path", "required": True, "schema": _STR, "description": desc})
        params += [
            {"name": q.name, "in": "query", "required": False, "schema": _query_schema(q), "description": q.description}
            for q in r.query
        ]
        op: dict[str, Any] = {
            "operationId": r.name,
            "summary": r.summary,
            "description": doc["description"],
            "parameters": params,
            "responses": doc["responses"],
        }
        if "request" in doc:
            op["requestBody"] = {"required": False, "content": {_JSON: {"schema": _ref(doc["request"])}}}
        if not r.auth:
            op["security"] = []
        paths.setdefault(openapi_path(r.pattern), {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "autonomic supervisor API",
            "version": __version__,
            "description": "The supervisor's entities, journal, modes, events and metrics. "
            "Send `Authorization: Bearer <token>`; see docs/api.md.",
        },
        "servers": [{"url": "http://127.0.0.1:8470"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def openapi_route(routes: Sequence[Route]) -> Route:
    """The ``/openapi.json`` route, documenting ``routes`` and itself (built once, on first request)."""
    built: list[dict[str, Any]] = []

    async def openapi(req: Request) -> Response:
        if not built:
            built.append(build_openapi([*routes, route]))
        return JsonResponse(built[0])

    route = Route(
        method="GET", pattern="/openapi.json", handler=openapi, name="openapi", summary="This document", auth=False
    )
    return route
