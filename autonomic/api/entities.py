"""Entities: the tree, one entity, a sensor's history, and invoking an effector."""

from __future__ import annotations

from typing import Any

from autonomic.api.http import HttpError, JsonResponse, Request, Response
from autonomic.api.routing import QueryParam, Route
from autonomic.entity import Entity
from autonomic.errors import DecisionError
from autonomic.mape.loop import Manager
from autonomic.runtime import Runtime

__all__ = ["ROUTES", "find_entity"]


def find_entity(runtime: Runtime, entity_id: str) -> Entity:
    """The entity called ``entity_id``, or a 404."""
    entity = runtime.root.find(entity_id)
    if entity is None:
        raise HttpError(404, f"no entity {entity_id!r}", detail={"root": runtime.root.id})
    return entity


def _mode(m: Manager | None) -> str | None:
    return None if m is None else m.mode.value


def _summary(e: Entity, runtime: Runtime) -> dict[str, Any]:
    parent = e.parent
    manager = runtime.managers.get(e.id)
    return {
        "id": e.id,
        "name": e.name,
        "type": e.type_name,
        "parent": parent.id if parent is not None else None,
        "lifecycle": e.lifecycle.actual.value,
        "up": e.up,
        "ready": e.ready,
        "children": [c.id for c in e.children],
        "managed": manager is not None,
        "mode": _mode(manager),
    }


async def list_entities(req: Request) -> Response:
    """Every entity, parents before children."""
    rt = req.ctx.runtime
    return JsonResponse({"root": rt.root.id, "entities": [_summary(e, rt) for e in rt.root.walk()]})


def _sensors(e: Entity) -> dict[str, Any]:
    e.refresh()  # enriched aggregates are computed when read
    out: dict[str, Any] = {}
    for name, spec in e.sensor_specs.items():
        st = e.sensor(name)
        out[name] = {
            "value": None if st.stale else st.value,
            "time": st.time,
            "unit": spec.unit,
            "stale": st.stale,
            "type": spec.kind.__name__,
            "description": spec.description,
            "problem": st.problem,
            "export": spec.export,
        }
    return out


def _manager(m: Manager | None) -> dict[str, Any] | None:
    if m is None:
        return None
    s = m.spec.settings
    return {
        "mode": m.mode.value,
        "configured_mode": s.mode.value,
        "packages": [b.package for b in m.spec.bindings],
        "interval": s.interval,
        "min_gap": s.min_gap,
        "rounds_run": m.rounds_run,
        "last_lag_s": m.lag_samples[-1] if m.lag_samples else None,
    }


async def get_entity(req: Request) -> Response:
    """One entity: config, lifecycle, sensors, effectors, manager."""
    rt = req.ctx.runtime
    e = find_entity(rt, req.params["id"])
    lc = e.lifecycle
    return JsonResponse(
        {
            **_summary(e, rt),
            "depends_on": list(e.depends_on),
            "config": e.config_json,
            "lifecycle": {"actual": lc.actual.value, "expected": lc.expected.value, "since": lc.since},
            "not_up_reasons": e.not_up_reasons,
            "sensors": _sensors(e),
            "effectors": [e.effector_specs[n].to_json() for n in sorted(e.effector_specs)],
            "manager": _manager(rt.managers.get(e.id)),
        }
    )


async def sensor_history(req: Request) -> Response:
    """A sensor's kept points, oldest first (``since`` and ``limit`` narrow them)."""
    e = find_entity(req.ctx.runtime, req.params["id"])
    name = req.params["name"]
    st = e.find_sensor(name)
    if st is None:
        raise HttpError(404, f"{e.id} has no sensor {name!r}; declared: {', '.join(sorted(e.sensor_specs)) or 'none'}")
    since = req.query["since"]
    points = [{"time": t, "value": v} for t, v in st.history if since is None or t >= since]
    limit = req.query["limit"]
    if limit is not None:
        points = points[-int(limit) :]
    return JsonResponse(
        {
            "entity": e.id,
            "sensor": name,
            "unit": st.spec.unit,
            "capacity": st.history.capacity,
            "points": points,
        }
    )


async def invoke_effector(req: Request) -> Response:
    """Invoke an effector with the body's arguments, through the executor's gates and journal."""
    ctx = req.ctx
    e = find_entity(ctx.runtime, req.params["id"])
    name = req.params["name"]
    spec = e.effector_specs.get(name)
    if spec is None:
        raise HttpError(
            404, f"effector {name!r} is not declared by {e.id}; declared: {', '.join(sorted(e.effector_specs))}"
        )
    args = await req.json()
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise HttpError(
            422,
            f"the body must be a JSON object of the effector's arguments, got {type(args).__name__}",
            detail={"effector": spec.to_json()},
        )
    subject = req.subject or ""
    verdict = await ctx.authorizer.check(
        subject, "invoke", {"entity": e.id, "type": e.type_name, "effector": name, "args": args}
    )
    if not verdict.allowed:
        ctx.log.warning(
            "api_denied", subject=subject, action="invoke", entity=e.id, effector=name, reason=verdict.reason
        )
        raise HttpError(403, verdict.reason)
    reason = req.query["reason"] or ""
    try:
        record = await ctx.runtime.invoke(e.id, name, args, actor=subject, reason=reason)
    except DecisionError as exc:
        raise HttpError(422, str(exc), detail={"effector": spec.to_json()}) from None
    except RuntimeError as exc:  # the executor is not running (the tree is not started or is stopping)
        raise HttpError(503, f"the supervisor cannot run actions now: {exc}") from None
    ctx.log.info(
        "api_invoke",
        subject=subject,
        entity=e.id,
        effector=name,
        args=record.args,
        action=record.id,
        status=record.status.value,
    )
    return JsonResponse(record.to_json(), 202, headers=[("location", f"/v1/actions/{record.id}")])


ROUTES = (
    Route(method="GET", pattern="/v1/entities", handler=list_entities, name="list_entities", summary="The entity tree"),
    Route(method="GET", pattern="/v1/entities/{id...}", handler=get_entity, name="get_entity", summary="One entity"),
    Route(
        method="GET",
        pattern="/v1/entities/{id...}/sensors/{name}/history",
        handler=sensor_history,
        name="sensor_history",
        summary="A sensor's recent values",
        query=(
            QueryParam(name="since", kind="float", description="only points at or after this time (clock seconds)"),
            QueryParam(name="limit", kind="int", minimum=1, maximum=100_000, description="only the newest N points"),
        ),
    ),
    Route(
        method="POST",
        pattern="/v1/entities/{id...}/effectors/{name}",
        handler=invoke_effector,
        name="invoke_effector",
        summary="Invoke an effector (an operator's action)",
        query=(QueryParam(name="reason", description="why, for the journal (default: invoked by <subject>)"),),
    ),
)
