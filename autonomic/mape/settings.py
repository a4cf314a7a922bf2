"""How a manager runs: bindings, interval, triggers, mode. Values, set from blueprints or code."""

from __future__ import annotations

import enum
from typing import Any

import attrs

__all__ = [
    "LIBRARY_HISTORIES",
    "GateSettings",
    "HistoryRule",
    "RateLimit",
    "ManagementSpec",
    "ManagerSettings",
    "Mode",
    "PolicyBinding",
    "Threshold",
    "Triggers",
]


class Mode(enum.StrEnum):
    """What a manager does with its decisions."""

    ENFORCE = "enforce"  # run the actions
    DRY_RUN = "dry-run"  # journal the decision, call nothing
    APPROVE = "approve"  # hold each action until an operator approves it (or it expires)
    PAUSED = "paused"  # no rounds at all


@attrs.frozen(kw_only=True)
class RateLimit:
    """At most ``max_calls`` within ``window_s`` seconds."""

    max_calls: int
    window_s: float


@attrs.frozen(kw_only=True)
class GateSettings:
    """Safety gates of a manager's executor (see ``autonomic.mape.gates``)."""

    #: per effector name, across the manager's targets
    effector_rate: dict[str, RateLimit] = attrs.field(factory=dict)
    #: per target entity, across effectors
    entity_rate: RateLimit | None = None
    #: at most this share of the entity's children acted on within the window (at least one)
    blast_radius_share: float | None = None
    blast_radius_window_s: float = 300.0
    #: open the circuit of an effector (per entity type) after this many failures in a row; 0 disables
    breaker_failures: int = 5
    breaker_reset_s: float = 300.0
    #: how long an action waits for approval in approve mode
    approval_timeout_s: float = 900.0


@attrs.frozen(kw_only=True)
class HistoryRule:
    """Append a field of a package's decision to a named history each round.

    The record is ``{key: decision[field], "time": now}``; ``seed_sensor``
    seeds an empty history with ``{key: sensors[seed_sensor]}`` on first sight.
    """

    field: str
    history: str
    key: str
    seed_sensor: str | None = None


@attrs.frozen(kw_only=True)
class PolicyBinding:
    """A Rego package bound to an entity: ``data.<package>.decision`` is evaluated each round."""

    package: str
    histories: tuple[HistoryRule, ...] = ()
    #: policy settings given to the policy as part of ``input.entity.config`` (the entity's own
    #: config wins on a clash), for entities whose config class does not carry them
    config: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def for_package(
        cls, package: str, histories: tuple[HistoryRule, ...] = (), config: dict[str, Any] | None = None
    ) -> PolicyBinding:
        """A binding with the library's history conventions for ``package`` plus ``histories``."""
        return cls(package=package, histories=LIBRARY_HISTORIES.get(package, ()) + histories, config=config or {})

    @property
    def path(self) -> str:
        """The decision's data path."""
        return f"data.{self.package}.decision"


@attrs.frozen(kw_only=True)
class Threshold:
    """Trigger a round when a sensor crosses ``above`` or ``below`` (of the entity or, with ``children``, a child)."""

    sensor: str
    above: float | None = None
    below: float | None = None
    children: bool = False

    def crossed(self, old: object, new: object) -> bool:
        """Whether ``old`` → ``new`` crosses into the watched region."""
        if not isinstance(new, (int, float)) or isinstance(new, bool):
            return False
        o = old if isinstance(old, (int, float)) and not isinstance(old, bool) else None
        if self.above is not None and new > self.above and (o is None or o <= self.above):
            return True
        return self.below is not None and new < self.below and (o is None or o >= self.below)


@attrs.frozen(kw_only=True)
class Triggers:
    """What starts a round early (besides the interval)."""

    #: sensors of the entity whose change triggers a round
    sensors: tuple[str, ...] = ()
    #: sensors of the children whose change triggers a round
    child_sensors: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    escalations: bool = True
    #: lifecycle, up or ready changes of the entity or a child
    lifecycle: bool = True


@attrs.frozen(kw_only=True)
class ManagerSettings:
    """Timing and behaviour of one manager."""

    interval: float = 10.0
    min_gap: float = 1.0
    #: spread first rounds over this share of the interval (by a hash of the entity id), so
    #: thousands of managers started together do not all run their rounds at the same instant
    start_spread: float = 1.0
    mode: Mode = Mode.ENFORCE
    triggers: Triggers = attrs.field(factory=Triggers)
    history_retention_s: float = 3600.0
    history_sensors: tuple[str, ...] = ()
    poll_timeout: float = 10.0
    #: cooldowns per effector name (seconds), on top of what effectors declare
    cooldowns: dict[str, float] = attrs.field(factory=dict)
    gates: GateSettings = attrs.field(factory=GateSettings)


@attrs.frozen(kw_only=True)
class ManagementSpec:
    """Everything needed to manage one entity."""

    bindings: tuple[PolicyBinding, ...]
    settings: ManagerSettings = attrs.field(factory=ManagerSettings)


#: what the framework records for the library's packages (see docs/policies.md, "Knowledge")
LIBRARY_HISTORIES: dict[str, tuple[HistoryRule, ...]] = {
    "autonomic.scaling": (
        HistoryRule(field="recommendation", history="recommendations", key="replicas", seed_sensor="replicas"),
    ),
    "autonomic.scaling.bounds": (HistoryRule(field="recommendation", history="desired_sizes", key="size"),),
}
