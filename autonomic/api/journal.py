"""The journal: rounds, actions, one action, and why an action was taken."""

from __future__ import annotations

from typing import Any

from autonomic.api.http import HttpError, JsonResponse, Request, Response
from autonomic.api.routing import QueryParam, Route
from autonomic.knowledge.records import ActionRecord, ActionStatus, RoundRecord
from autonomic.knowledge.store import JournalQuery, KnowledgeStore

__all__ = ["ROUTES", "explain", "find_round"]

#: rounds that cannot be the action's (same manager, started earlier) looked at before giving up
_ROUND_SEARCH = 20

_FILTERS = (
    QueryParam(name="entity", description="only this entity's records (an action's manager or target)"),
    QueryParam(name="since", kind="float", description="only records at or after this time (clock seconds)"),
    QueryParam(name="until", kind="float", description="only records at or before this time (clock seconds)"),
    QueryParam(
        name="limit", kind="int", default=100, minimum=1, maximum=1000, description="at most this many, newest first"
    ),
)
_STATUS = QueryParam(
    name="status",
    kind="choice",
    choices=tuple(s.value for s in ActionStatus),
    description="only actions in this status",
)


def _journal_query(req: Request) -> JournalQuery:
    q = req.query
    if q["since"] is not None and q["until"] is not None and q["since"] > q["until"]:
        raise HttpError(400, f"since ({q['since']:g}) is after until ({q['until']:g})")
    status = q.get("status")
    return JournalQuery(
        entity=q["entity"],
        since=q["since"],
        until=q["until"],
        status=ActionStatus(status) if status is not None else None,
        limit=int(q["limit"]),
    )


async def list_rounds(req: Request) -> Response:
    """Rounds, newest first."""
    rounds = await req.ctx.knowledge.store.rounds(_journal_query(req))
    return JsonResponse({"rounds": [r.to_json() for r in rounds]})


async def list_actions(req: Request) -> Response:
    """Actions, newest first."""
    actions = await req.ctx.knowledge.store.actions(_journal_query(req))
    return JsonResponse({"actions": [a.to_json() for a in actions]})


async def _action(req: Request) -> ActionRecord:
    action_id = req.params["id"]
    record = await req.ctx.knowledge.store.action(action_id)
    if record is None:
        raise HttpError(404, f"no action {action_id[:60]!r} in the journal")
    return record


async def get_action(req: Request) -> Response:
    """One action as journaled (its latest status)."""
    return JsonResponse((await _action(req)).to_json())


async def find_round(store: KnowledgeStore, action: ActionRecord) -> RoundRecord | None:
    """The round that decided ``action``: the store has no lookup by round id, but that round is
    among the newest of the action's manager that started by the time the action was requested."""
    if not action.round_id.startswith("R"):
        return None  # an operator's action ("manual"): no round decided it
    rounds = await store.rounds(JournalQuery(entity=action.manager, until=action.requested, limit=_ROUND_SEARCH))
    return next((r for r in rounds if r.id == action.round_id), None)


def explain(action: ActionRecord, round_: RoundRecord | None) -> dict[str, Any]:
    """The answer to "why?": the action, the round that decided it and on what, and how it ended."""
    decision = round_.decision if round_ is not None else None
    decided: dict[str, Any] | None = None
    siblings: list[str] = []
    if round_ is not None:
        siblings = [a for a in round_.actions if a != action.id]
        if decision is not None and action.id in round_.actions:
            entries = decision.get("actions") or []
            i = round_.actions.index(action.id)
            decided = entries[i] if i < len(entries) else None
    operator = action.manager.removeprefix("operator:") if action.manager.startswith("operator:") else None
    invoked_by: dict[str, str] = {"operator": operator} if operator is not None else {"manager": action.manager}
    if action.round_id.startswith("recovery:"):  # re-run after a restart, for an action that was in flight
        invoked_by["recovery_of"] = action.round_id.removeprefix("recovery:")
    return {
        "action": action.to_json(),
        "invoked_by": invoked_by,
        "round": None
        if round_ is None
        else {
            "id": round_.id,
            "entity": round_.entity,
            "started": round_.started,
            "trigger": round_.trigger,
            "mode": round_.mode,
            "input_digest": round_.input_digest,
            "problems": list(round_.problems),
        },
        "trigger": round_.trigger if round_ is not None else ("operator" if operator is not None else None),
        "policy_version": round_.policy_version if round_ is not None else None,
        "symptoms": (decision or {}).get("symptoms", []),
        "decision": decision,
        "decided": decided,
        "reason": action.reason,
        "plan": list(round_.actions) if round_ is not None else [action.id],
        "other_actions": siblings,
        "outcome": {
            "status": action.status.value,
            "final": action.status.final,
            "error": action.error,
            "result": action.result,
            "started": action.started,
            "finished": action.finished,
            "duration": action.duration,
        },
    }


async def why(req: Request) -> Response:
    """Why an action was taken: its round (trigger, input digest, policy version), symptoms, decision, outcome."""
    action = await _action(req)
    round_ = await find_round(req.ctx.knowledge.store, action)
    return JsonResponse(explain(action, round_))


ROUTES = (
    Route(
        method="GET",
        pattern="/v1/rounds",
        handler=list_rounds,
        name="list_rounds",
        summary="Rounds, newest first",
        query=_FILTERS,
    ),
    Route(
        method="GET",
        pattern="/v1/actions",
        handler=list_actions,
        name="list_actions",
        summary="Actions, newest first",
        query=(*_FILTERS, _STATUS),
    ),
    Route(method="GET", pattern="/v1/actions/{id}", handler=get_action, name="get_action", summary="One action"),
    Route(
        method="GET", pattern="/v1/actions/{id}/why", handler=why, name="why_action", summary="Why an action was taken"
    ),
)
