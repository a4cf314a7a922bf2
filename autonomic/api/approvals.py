"""Approving or rejecting an action that waits for an operator (a manager in ``approve`` mode).

Both are authorized as ``approve`` (the right to decide), with the verdict in
the resource. Actions waiting are listed by ``GET /v1/actions?status=awaiting_approval``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from autonomic.api.http import HttpError, JsonResponse, Request, Response
from autonomic.api.routing import Route
from autonomic.knowledge.records import ActionRecord, ActionStatus

__all__ = ["ROUTES"]

_DONE = {"approve": "approved", "reject": "rejected"}


async def _decide(req: Request, verdict: str) -> Response:
    ctx = req.ctx
    action_id = req.params["id"]
    record = await ctx.knowledge.store.action(action_id)
    if record is None:
        raise HttpError(404, f"no action {action_id[:60]!r} in the journal")
    if record.status is not ActionStatus.AWAITING_APPROVAL:
        raise HttpError(409, f"action {record.id} is not awaiting approval (it is {record.status.value})")
    subject = req.subject or ""
    resource = {
        "action": record.id,
        "entity": record.target,
        "effector": record.effector,
        "args": record.args,
        "manager": record.manager,
        "verdict": verdict,
    }
    verdict_ = await ctx.authorizer.check(subject, "approve", resource)
    if not verdict_.allowed:
        ctx.log.warning("api_denied", subject=subject, action="approve", verdict=verdict, target_action=record.id)
        raise HttpError(403, verdict_.reason)
    decide: Callable[[str, str], Awaitable[ActionRecord]] = (
        ctx.runtime.executor.approve if verdict == "approve" else ctx.runtime.executor.reject
    )
    try:
        done = await decide(record.id, subject)
    except KeyError:  # it expired (or someone else decided) since it was read
        latest = await ctx.knowledge.store.action(record.id)
        status = latest.status.value if latest is not None else "gone"
        raise HttpError(409, f"action {record.id} is no longer awaiting approval (it is {status})") from None
    ctx.log.info("api_" + _DONE[verdict], subject=subject, target_action=record.id, status=done.status.value)
    return JsonResponse(done.to_json())


async def approve(req: Request) -> Response:
    """Run a waiting action now (the gates still apply)."""
    return await _decide(req, "approve")


async def reject(req: Request) -> Response:
    """Refuse a waiting action."""
    return await _decide(req, "reject")


ROUTES = (
    Route(
        method="POST",
        pattern="/v1/actions/{id}/approve",
        handler=approve,
        name="approve_action",
        summary="Approve a waiting action",
    ),
    Route(
        method="POST",
        pattern="/v1/actions/{id}/reject",
        handler=reject,
        name="reject_action",
        summary="Reject a waiting action",
    ),
)
