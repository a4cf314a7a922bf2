"""The MAPE-K loop of one entity: rounds on an interval and on triggers."""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import attrs
import structlog

from autonomic.clock import Clock
from autonomic.entity import Entity
from autonomic.errors import DecisionError
from autonomic.knowledge.knowledge import Knowledge
from autonomic.knowledge.records import RoundRecord
from autonomic.mape.analyze import analyze
from autonomic.mape.execute import Executor
from autonomic.mape.monitor import build_input, poll
from autonomic.mape.settings import ManagementSpec, Mode
from autonomic.mape.validate import validate
from autonomic.observability import Metrics
from autonomic.policy.decision import Escalation
from autonomic.policy.engine import PolicyEngine

__all__ = ["Manager"]

_MAX_EVENTS = 1000

#: what a manager calls to hand escalations to its parent's manager
EscalateFn = Callable[[Entity, tuple[Escalation, ...]], None]


@attrs.define(eq=False)
class Manager:
    """The autonomic manager of one entity.

    Rounds run every ``settings.interval`` seconds and early on a trigger,
    never closer than ``settings.min_gap`` and never two at once.
    """

    entity: Entity
    spec: ManagementSpec
    engine: PolicyEngine
    knowledge: Knowledge
    executor: Executor
    clock: Clock
    escalate: EscalateFn
    metrics: Metrics | None = None
    log: Any = None
    _events: deque[dict[str, Any]] = attrs.field(init=False, factory=lambda: deque(maxlen=_MAX_EVENTS))
    _trigger: str | None = attrs.field(init=False, default=None)
    _wait_scope: anyio.CancelScope | None = attrs.field(init=False, default=None)
    _last_start: float | None = attrs.field(init=False, default=None)
    _seeded: set[str] = attrs.field(init=False, factory=set)
    _dropped_events: int = attrs.field(init=False, default=0)
    _binding_config: dict[str, Any] = attrs.field(init=False, factory=dict)
    rounds_run: int = attrs.field(init=False, default=0)
    #: how late the last interval rounds started (seconds), newest last
    lag_samples: deque[float] = attrs.field(init=False, factory=lambda: deque(maxlen=256))

    def __attrs_post_init__(self) -> None:
        if self.log is None:
            self.log = structlog.get_logger("autonomic.mape").bind(entity=self.entity.id)
        st = self.knowledge.state(self.entity.id)
        st.retention_s = self.spec.settings.history_retention_s
        for b in self.spec.bindings:
            self._binding_config.update(b.config)

    @property
    def mode(self) -> Mode:
        """The mode in force (a persisted override, else the configured one)."""
        saved = self.knowledge.state(self.entity.id).mode
        return Mode(saved) if saved else self.spec.settings.mode

    def set_mode(self, mode: Mode) -> None:
        """Switch mode (persisted with the manager's state)."""
        st = self.knowledge.state(self.entity.id)
        st.mode = mode.value
        st.dirty.add("mode")
        self.trigger("mode")

    def add_event(self, event: dict[str, Any]) -> None:
        """Queue an event (escalation, lifecycle change) for the next round's input."""
        if len(self._events) == self._events.maxlen:
            self._dropped_events += 1
        self._events.append(event)

    def trigger(self, reason: str) -> None:
        """Ask for a round as soon as the minimum gap allows."""
        if self._trigger is None:
            self._trigger = reason
        if self._wait_scope is not None:
            self._wait_scope.cancel()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run rounds until cancelled."""
        settings = self.spec.settings
        task_status.started()
        # A stable offset per entity: deterministic runs, yet no thundering herd of rounds.
        offset = zlib.crc32(self.entity.id.encode()) / 2**32 * settings.interval * settings.start_spread
        due = self.clock.now() + offset
        while True:
            reason = self._trigger
            if reason is None:
                with anyio.CancelScope() as scope:
                    self._wait_scope = scope
                    await self.clock.sleep_until(due)
                self._wait_scope = None
                reason = self._trigger or "interval"
            if self._last_start is not None:
                earliest = self._last_start + settings.min_gap
                if self.clock.now() < earliest:
                    await self.clock.sleep_until(earliest)
            self._trigger = None
            started = self.clock.now()
            if reason == "interval":
                lag = max(0.0, started - due)
                self.lag_samples.append(lag)
                if self.metrics is not None:
                    self.metrics.loop_lag.observe(lag)
            self._last_start = started
            if self.mode is not Mode.PAUSED:
                await self.run_round(reason)
            due = started + settings.interval

    def _seed_histories(self, now: float) -> None:
        """Seed empty histories from sensors on first sight (as the HPA does with recommendations)."""
        st = self.knowledge.state(self.entity.id)
        for b in self.spec.bindings:
            for rule in b.histories:
                if rule.seed_sensor is None or rule.history in self._seeded:
                    continue
                self._seeded.add(rule.history)
                if len(st.history(rule.history)) == 0:
                    s = self.entity.find_sensor(rule.seed_sensor)
                    if s is not None and s.value is not None:
                        self.knowledge.record_history(self.entity.id, rule.history, {rule.key: s.value, "time": now})

    async def run_round(self, trigger: str = "manual") -> RoundRecord:
        """One Monitor, Analyze/Plan, Execute round, journaled in Knowledge. Never raises for bad input."""
        entity, settings, kn = self.entity, self.spec.settings, self.knowledge
        t_wall = time.perf_counter()
        started = self.clock.now()
        round_id = kn.next_round_id()
        timings: dict[str, float] = {}
        mode = self.mode

        # Monitor
        watched = [entity, *entity.children]
        await poll(watched, self.clock, settings.poll_timeout)
        problems = tuple(p if e is entity else f"{e.id}: {p}" for e in watched for p in e.take_problems())
        if self._dropped_events:
            problems += (f"{self._dropped_events} events dropped (queue full)",)
            self._dropped_events = 0
        now = self.clock.now()
        self._seed_histories(now)
        state = kn.state(entity.id)
        events = list(self._events)
        self._events.clear()
        cooldowns = kn.cooldowns([entity.id, *(c.id for c in entity.children)], now)
        doc = build_input(entity, state, events, now, settings.history_sensors, cooldowns)
        if self._binding_config:
            doc["entity"]["config"] = {**self._binding_config, **doc["entity"]["config"]}
        input_json = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)
        digest = hashlib.sha256(input_json.encode()).hexdigest()[:16]
        t1 = time.perf_counter()
        timings["monitor_s"] = t1 - t_wall

        # Analyze + Plan
        analysis = await analyze(self.engine, self.spec.bindings, input_json)
        t2 = time.perf_counter()
        timings["evaluate_s"] = t2 - t1
        if self.metrics is not None:
            self.metrics.policy_duration.observe(t2 - t1)

        error, error_kind = analysis.error, analysis.error_kind
        decision = analysis.decision
        plan = []
        if decision is not None:
            try:
                plan = validate(decision, entity)
            except DecisionError as exc:
                error, error_kind = f"invalid decision: {exc}", "decision"
        timings["validate_s"] = time.perf_counter() - t2

        action_ids: tuple[str, ...] = ()
        if error is None and decision is not None:
            # Knowledge the next round reads
            for binding, part in analysis.parts:
                for rule in binding.histories:
                    value = part.extra.get(rule.field)
                    if value is not None:
                        kn.record_history(entity.id, rule.history, {rule.key: value, "time": now})
            if decision.remember:
                state.remembered.update(decision.remember)
                state.dirty.add("remembered")
            # Execute
            if plan:
                records = await self.executor.submit(entity.id, round_id, plan, mode, settings, entity)
                action_ids = tuple(r.id for r in records)
            if decision.escalate:
                self.escalate(entity, decision.escalate)

        finished = self.clock.now()
        timings["round_s"] = time.perf_counter() - t_wall
        record = RoundRecord(
            id=round_id,
            entity=entity.id,
            started=started,
            finished=finished,
            trigger=trigger,
            mode=mode.value,
            input_digest=digest,
            policy_version=self.engine.version,
            decision=decision.to_json() if decision is not None else None,
            error=error,
            error_kind=error_kind,
            problems=problems,
            actions=action_ids,
            timings=timings,
        )
        with anyio.CancelScope(shield=True):
            await kn.journal_round(record)
            await kn.persist(entity.id)
        self.rounds_run += 1
        self._observe(record, len(plan))
        return record

    def _observe(self, record: RoundRecord, n_actions: int) -> None:
        if self.metrics is not None:
            m = self.metrics
            m.rounds.labels(record.trigger.split(":", 1)[0]).inc()  # the kind: one series, not one per entity
            m.round_duration.observe(record.timings.get("round_s", 0.0))
            if record.error_kind == "policy":
                outcome = "policy_error"
            elif record.error_kind == "decision":
                outcome = "invalid"
            else:
                outcome = "actions" if n_actions else "noop"
            m.decisions.labels(outcome).inc()
            if record.error_kind:
                m.policy_errors.labels(record.error_kind).inc()
        d = record.decision or {}
        fields: dict[str, Any] = {
            "round": record.id,
            "trigger": record.trigger,
            "mode": record.mode,
            "duration_ms": round(record.timings.get("round_s", 0.0) * 1000, 3),
            "input": record.input_digest,
            "policy": record.policy_version,
            "symptoms": [s["name"] for s in d.get("symptoms", [])],
            "actions": [f"{a['target']}.{a['effector']}" for a in d.get("actions", [])],
            "escalate": [e["symptom"] for e in d.get("escalate", [])],
        }
        if record.problems:
            fields["problems"] = list(record.problems)
        if record.error:
            self.log.error("round", error=record.error, error_kind=record.error_kind, **fields)
        else:
            self.log.info("round", **fields)
