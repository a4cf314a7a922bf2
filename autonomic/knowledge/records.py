"""What the journal keeps: one record per round, one per action."""

from __future__ import annotations

import enum
from typing import Any

import attrs

__all__ = ["ActionRecord", "ActionStatus", "RoundRecord"]


class ActionStatus(enum.StrEnum):
    """Where an action stands."""

    PENDING = "pending"  # journaled, effector not yet invoked
    RUNNING = "running"  # effector invoked
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    HELD = "held"  # a gate held it back; ``error`` says which
    DRY_RUN = "dry_run"  # the manager is in dry-run mode
    SKIPPED = "skipped"  # an earlier action of the same decision failed
    UNKNOWN = "unknown"  # in flight when the supervisor stopped; outcome not known
    AWAITING_APPROVAL = "awaiting_approval"  # approve mode: waits for an operator
    REJECTED = "rejected"  # an operator said no
    EXPIRED = "expired"  # nobody approved it in time

    @property
    def final(self) -> bool:
        """Whether the action is over."""
        return self not in (ActionStatus.PENDING, ActionStatus.RUNNING, ActionStatus.AWAITING_APPROVAL)


@attrs.frozen(kw_only=True)
class ActionRecord:
    """One effector call a manager decided on, and its outcome."""

    id: str
    round_id: str
    manager: str
    target: str
    effector: str
    args: dict[str, Any] = attrs.field(factory=dict)
    reason: str = ""
    status: ActionStatus = ActionStatus.PENDING
    idempotent: bool = False
    requested: float = 0.0
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    result: Any = None

    @property
    def duration(self) -> float | None:
        """Seconds from invocation to outcome."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    def to_json(self) -> dict[str, Any]:
        """The record as policies and the API see it."""
        return {
            "id": self.id,
            "round": self.round_id,
            "manager": self.manager,
            "target": self.target,
            "effector": self.effector,
            "args": self.args,
            "reason": self.reason,
            "status": self.status.value,
            "idempotent": self.idempotent,
            "requested": self.requested,
            "started": self.started,
            "finished": self.finished,
            "duration": self.duration,
            "error": self.error,
            "result": self.result,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ActionRecord:
        """Inverse of :meth:`to_json`."""
        return cls(
            id=d["id"],
            round_id=d["round"],
            manager=d["manager"],
            target=d["target"],
            effector=d["effector"],
            args=d.get("args") or {},
            reason=d.get("reason") or "",
            status=ActionStatus(d["status"]),
            idempotent=bool(d.get("idempotent")),
            requested=d.get("requested") or 0.0,
            started=d.get("started"),
            finished=d.get("finished"),
            error=d.get("error"),
            result=d.get("result"),
        )


@attrs.frozen(kw_only=True)
class RoundRecord:
    """One MAPE round of one manager: what it saw (digest), decided and started."""

    id: str
    entity: str
    started: float
    finished: float
    trigger: str
    mode: str
    input_digest: str = ""
    policy_version: str = ""
    decision: dict[str, Any] | None = None
    error: str | None = None
    #: ``policy`` (engine error), ``decision`` (contract broken) or ``monitor``
    error_kind: str | None = None
    problems: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    timings: dict[str, float] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record as the API shows it."""
        return {
            "id": self.id,
            "entity": self.entity,
            "started": self.started,
            "finished": self.finished,
            "trigger": self.trigger,
            "mode": self.mode,
            "input_digest": self.input_digest,
            "policy_version": self.policy_version,
            "decision": self.decision,
            "error": self.error,
            "error_kind": self.error_kind,
            "problems": list(self.problems),
            "actions": list(self.actions),
            "timings": self.timings,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RoundRecord:
        """Inverse of :meth:`to_json`."""
        return cls(
            id=d["id"],
            entity=d["entity"],
            started=d["started"],
            finished=d["finished"],
            trigger=d.get("trigger", ""),
            mode=d.get("mode", ""),
            input_digest=d.get("input_digest", ""),
            policy_version=d.get("policy_version", ""),
            decision=d.get("decision"),
            error=d.get("error"),
            error_kind=d.get("error_kind"),
            problems=tuple(d.get("problems") or ()),
            actions=tuple(d.get("actions") or ()),
            timings=d.get("timings") or {},
        )
