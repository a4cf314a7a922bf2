"""The decision a policy returns, as values, and its shape check.

The shape is checked here (fields, types); whether targets, effectors and
arguments exist is checked against the entity tree in ``autonomic.mape.validate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from autonomic.errors import DecisionError

__all__ = ["ActionRequest", "Decision", "Escalation", "SEVERITIES", "Symptom", "merge_decisions", "parse_decision"]

SEVERITIES = ("info", "warning", "critical")
_STANDARD = ("symptoms", "actions", "escalate", "remember")


@attrs.frozen(kw_only=True)
class Symptom:
    """Something wrong (or worth knowing), with evidence."""

    name: str
    severity: str = "warning"
    detail: Any = None


@attrs.frozen(kw_only=True)
class ActionRequest:
    """An effector call a policy asks for."""

    target: str
    effector: str
    args: dict[str, Any] = attrs.field(factory=dict)
    reason: str = ""


@attrs.frozen(kw_only=True)
class Escalation:
    """A problem handed to the parent's manager."""

    symptom: str
    detail: Any = None


@attrs.frozen(kw_only=True)
class Decision:
    """Symptoms, actions, escalations and values to remember, plus any extra fields."""

    symptoms: tuple[Symptom, ...] = ()
    actions: tuple[ActionRequest, ...] = ()
    escalate: tuple[Escalation, ...] = ()
    remember: dict[str, Any] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)
    #: the raw value each package returned, package path to value
    raw: dict[str, Any] = attrs.field(factory=dict)

    @property
    def empty(self) -> bool:
        """No symptoms, actions, escalations or memories."""
        return not (self.symptoms or self.actions or self.escalate or self.remember)

    def to_json(self) -> dict[str, Any]:
        """The decision as journaled."""
        return {
            "symptoms": [attrs.asdict(s) for s in self.symptoms],
            "actions": [attrs.asdict(a) for a in self.actions],
            "escalate": [attrs.asdict(e) for e in self.escalate],
            "remember": self.remember,
            **self.extra,
        }


def _list(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecisionError(f"{where}: expected an array, got {_kind(value)}")
    return value


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise DecisionError(f"{where}: expected an object, got {_kind(value)}")
    return value


def _str(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True, default: str = "") -> str:
    if key not in obj or obj[key] is None:
        if required:
            raise DecisionError(f"{where}.{key}: missing")
        return default
    v = obj[key]
    if not isinstance(v, str) or (required and not v):
        raise DecisionError(f"{where}.{key}: expected a non-empty string, got {_kind(v)} {v!r:.60}")
    return v


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(v), "number")


def parse_decision(value: Any, *, where: str = "decision") -> Decision:
    """Check the shape of a decision value and turn it into a :class:`Decision`."""
    doc = _obj(value, where)
    symptoms = []
    for i, s in enumerate(_list(doc.get("symptoms"), f"{where}.symptoms")):
        w = f"{where}.symptoms[{i}]"
        s = _obj(s, w)
        sev = _str(s, "severity", w, required=False, default="warning")
        if sev not in SEVERITIES:
            raise DecisionError(f"{w}.severity: {sev!r} is not one of {', '.join(SEVERITIES)}")
        symptoms.append(Symptom(name=_str(s, "name", w), severity=sev, detail=s.get("detail")))
    actions = []
    for i, a in enumerate(_list(doc.get("actions"), f"{where}.actions")):
        w = f"{where}.actions[{i}]"
        a = _obj(a, w)
        args = a.get("args")
        args = {} if args is None else dict(_obj(args, f"{w}.args"))
        reason = a.get("reason", "")
        if not isinstance(reason, str):
            raise DecisionError(f"{w}.reason: expected a string, got {_kind(reason)}")
        actions.append(
            ActionRequest(target=_str(a, "target", w), effector=_str(a, "effector", w), args=args, reason=reason)
        )
    escalate = []
    for i, e in enumerate(_list(doc.get("escalate"), f"{where}.escalate")):
        w = f"{where}.escalate[{i}]"
        e = _obj(e, w)
        escalate.append(Escalation(symptom=_str(e, "symptom", w), detail=e.get("detail")))
    remember = doc.get("remember")
    remember = {} if remember is None else dict(_obj(remember, f"{where}.remember"))
    extra = {k: v for k, v in doc.items() if k not in _STANDARD}
    return Decision(
        symptoms=tuple(symptoms), actions=tuple(actions), escalate=tuple(escalate), remember=remember, extra=extra
    )


def merge_decisions(parts: Sequence[tuple[str, Decision]]) -> Decision:
    """Merge decisions of several packages in binding order (lists concatenated, objects merged)."""
    if len(parts) == 1:
        path, d = parts[0]
        return attrs.evolve(d, raw={path: d.to_json()})
    symptoms: list[Symptom] = []
    actions: list[ActionRequest] = []
    escalate: list[Escalation] = []
    remember: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for path, d in parts:
        symptoms.extend(d.symptoms)
        actions.extend(d.actions)
        escalate.extend(d.escalate)
        remember.update(d.remember)
        extra.update(d.extra)
        raw[path] = d.to_json()
    return Decision(
        symptoms=tuple(symptoms),
        actions=tuple(actions),
        escalate=tuple(escalate),
        remember=remember,
        extra=extra,
        raw=raw,
    )
