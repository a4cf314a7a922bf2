"""Analyze and Plan: one evaluation of the bound Rego packages, merged into one decision."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from autonomic.errors import DecisionError, PolicyError
from autonomic.mape.settings import PolicyBinding
from autonomic.policy.decision import Decision, merge_decisions, parse_decision
from autonomic.policy.engine import UNDEFINED, PolicyEngine

__all__ = ["Analysis", "analyze"]


@attrs.frozen(kw_only=True)
class Analysis:
    """The merged decision, each package's part, or the error that replaced them."""

    decision: Decision | None = None
    parts: tuple[tuple[PolicyBinding, Decision], ...] = ()
    error: str | None = None
    error_kind: str | None = None  # "policy" or "decision"


async def analyze(engine: PolicyEngine, bindings: Sequence[PolicyBinding], input_json: str) -> Analysis:
    """Evaluate each binding's decision path on the input; never raises for policy faults."""
    parts: list[tuple[PolicyBinding, Decision]] = []
    for b in bindings:
        try:
            value = await engine.evaluate(b.path, input_json)
        except PolicyError as exc:
            return Analysis(error=str(exc), error_kind="policy")
        if value is UNDEFINED:
            continue  # no rule body held: nothing to do
        try:
            parts.append((b, parse_decision(value, where=b.path)))
        except DecisionError as exc:
            return Analysis(error=str(exc), error_kind="decision")
    decision = merge_decisions([(b.path, d) for b, d in parts]) if parts else Decision()
    return Analysis(decision=decision, parts=tuple(parts))
