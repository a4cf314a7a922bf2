"""A manager's mode: read it, and switch it (``enforce``, ``dry-run``, ``paused``, ...).

The accepted values are those of :class:`~autonomic.mape.settings.Mode`, so a
new mode needs no change here: it is accepted, documented in the OpenAPI
document and offered to the authorization policy as soon as ``Mode`` has it.
"""

from __future__ import annotations

from typing import Any

import attrs

from autonomic._convert import structure
from autonomic.api.entities import find_entity
from autonomic.api.http import HttpError, JsonResponse, Request, Response
from autonomic.api.routing import Route
from autonomic.mape.loop import Manager
from autonomic.mape.settings import Mode

__all__ = ["ROUTES", "ModeChange", "mode_values"]


def mode_values() -> list[str]:
    """Every mode a manager can be switched to."""
    return [m.value for m in Mode]


@attrs.frozen(kw_only=True)
class ModeChange:
    """The body of ``PUT /v1/entities/{id}/mode``."""

    mode: str


def _manager(req: Request) -> Manager:
    e = find_entity(req.ctx.runtime, req.params["id"])
    m = req.ctx.runtime.managers.get(e.id)
    if m is None:
        raise HttpError(404, f"{e.id} is not managed (no policies are bound to it), so it has no mode")
    return m


def _doc(m: Manager) -> dict[str, Any]:
    return {
        "entity": m.entity.id,
        "mode": m.mode.value,
        "configured": m.spec.settings.mode.value,
        "modes": mode_values(),
    }


async def get_mode(req: Request) -> Response:
    """The mode in force, the configured one, and the choices."""
    return JsonResponse(_doc(_manager(req)))


async def set_mode(req: Request) -> Response:
    """Switch the mode (persisted at once, so a restart keeps an operator's pause)."""
    ctx = req.ctx
    m = _manager(req)
    change, problems = structure(await req.json(), ModeChange, path="body")
    if change is None:
        raise HttpError(
            422,
            'the body must be {"mode": ...}: ' + "; ".join(f"{p}: {msg}" for p, msg in problems),
            detail={"modes": mode_values()},
        )
    try:
        mode = Mode(change.mode)
    except ValueError:
        raise HttpError(
            422,
            f"unknown mode {change.mode[:40]!r}; expected one of {', '.join(mode_values())}",
            detail={"modes": mode_values()},
        ) from None
    subject = req.subject or ""
    entity = m.entity
    old = m.mode.value
    verdict = await ctx.authorizer.check(
        subject, "set_mode", {"entity": entity.id, "type": entity.type_name, "mode": mode.value, "from": old}
    )
    if not verdict.allowed:
        ctx.log.warning("api_denied", subject=subject, action="set_mode", entity=entity.id, mode=mode.value)
        raise HttpError(403, verdict.reason)
    m.set_mode(mode)
    await ctx.knowledge.persist(entity.id)
    ctx.log.info("api_set_mode", subject=subject, entity=entity.id, mode=mode.value, previous=old)
    return JsonResponse(_doc(m))


ROUTES = (
    Route(
        method="GET", pattern="/v1/entities/{id...}/mode", handler=get_mode, name="get_mode", summary="A manager's mode"
    ),
    Route(
        method="PUT",
        pattern="/v1/entities/{id...}/mode",
        handler=set_mode,
        name="set_mode",
        summary="Switch a manager's mode",
    ),
)
