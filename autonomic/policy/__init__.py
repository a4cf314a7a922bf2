"""Policy engines (embedded regorus, a real OPA server) and the decision schema."""

from autonomic.policy.decision import ActionRequest, Decision, Escalation, Symptom, merge_decisions, parse_decision
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.engine import UNDEFINED, PolicyEngine, PolicySet, PolicySource, Undefined, library_path

__all__ = [
    "UNDEFINED",
    "ActionRequest",
    "Decision",
    "EmbeddedEngine",
    "Escalation",
    "PolicyEngine",
    "PolicySet",
    "PolicySource",
    "Symptom",
    "Undefined",
    "library_path",
    "merge_decisions",
    "parse_decision",
]
