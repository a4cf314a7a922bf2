"""Validation of a decision against the entity tree, before anything runs."""

from __future__ import annotations

from typing import Any

import attrs

from autonomic.effector import EffectorSpec, check_args
from autonomic.entity import Entity
from autonomic.errors import DecisionError
from autonomic.policy.decision import Decision

__all__ = ["PlannedAction", "validate"]


@attrs.frozen(kw_only=True)
class PlannedAction:
    """An action that passed validation: resolved target, effector spec, checked arguments."""

    target: Entity = attrs.field(eq=False)
    spec: EffectorSpec
    args: dict[str, Any]
    reason: str

    @property
    def target_id(self) -> str:
        """The target's id."""
        return self.target.id


def validate(decision: Decision, entity: Entity) -> list[PlannedAction]:
    """Resolve every action of ``decision``; raise :class:`DecisionError` naming the first fault.

    A target is ``"self"`` or the id of ``entity`` or one of its descendants;
    its effector must be declared; the arguments must fit the signature.
    """
    planned = []
    for i, a in enumerate(decision.actions):
        where = f"actions[{i}]"
        target = entity if a.target == "self" else entity.find(a.target)
        if target is None:
            raise DecisionError(f"{where}: unknown target {a.target!r}: not {entity.id} or one of its descendants")
        spec = target.effector_specs.get(a.effector)
        if spec is None:
            raise DecisionError(
                f"{where}: effector {a.effector!r} is not declared by {target.id}; "
                f"declared: {', '.join(sorted(target.effector_specs))}"
            )
        try:
            args = check_args(spec, a.args)
        except ValueError as exc:
            raise DecisionError(f"{where} ({target.id}.{a.effector}): {exc}") from None
        planned.append(PlannedAction(target=target, spec=spec, args=args, reason=a.reason))
    return planned
