"""Execute: gates, then effector calls under timeouts; outcomes as values, never exceptions.

The actions of one decision form a plan that runs in order: an action starts
when the previous one has succeeded; after a failure (or a held action) the
rest are skipped. At most one plan acts on a target entity at a time. Every
action is journaled before its effector is invoked and completed after.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.abc
import attrs
import structlog

from autonomic.clock import Clock
from autonomic.entity import Entity
from autonomic.errors import EffectorError
from autonomic.knowledge.knowledge import Knowledge
from autonomic.knowledge.records import ActionRecord, ActionStatus
from autonomic.mape.gates import Gates
from autonomic.mape.settings import ManagerSettings, Mode
from autonomic.mape.validate import PlannedAction
from autonomic.observability import Metrics

__all__ = ["Executor", "Outcome", "invoke_effector"]


@attrs.frozen(kw_only=True)
class Outcome:
    """What one effector call came to."""

    status: ActionStatus
    started: float
    finished: float
    result: Any = None
    error: str | None = None
    retryable: bool = False

    @property
    def duration(self) -> float:
        """Seconds the call took."""
        return self.finished - self.started


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


async def invoke_effector(clock: Clock, entity: Entity, name: str, args: dict[str, Any]) -> Outcome:
    """Call one effector under its timeout; every failure becomes an :class:`Outcome`."""
    spec = entity.effector_specs[name]
    started = clock.now()
    try:
        async with clock.timeout(spec.timeout):
            result = await entity.effector_method(name)(**args)
    except TimeoutError:
        return Outcome(
            status=ActionStatus.TIMEOUT,
            started=started,
            finished=clock.now(),
            error=f"{entity.id}.{name} did not finish within its timeout of {spec.timeout:g} s",
            retryable=True,
        )
    except Exception as exc:  # the effector's failure is an outcome, not the loop's
        return Outcome(
            status=ActionStatus.ERROR,
            started=started,
            finished=clock.now(),
            error=f"{type(exc).__name__}: {exc}",
            retryable=isinstance(exc, EffectorError) and exc.retryable,
        )
    return Outcome(status=ActionStatus.OK, started=started, finished=clock.now(), result=_jsonable(result))


@attrs.frozen
class _Awaiting:
    planned: PlannedAction
    record: ActionRecord
    settings: ManagerSettings
    manager_entity: Entity | None
    expires: float


@attrs.define
class Executor:
    """Runs plans in the supervisor's task group, one plan per target at a time."""

    clock: Clock
    knowledge: Knowledge
    metrics: Metrics | None = None
    log: Any = attrs.field(factory=lambda: structlog.get_logger("autonomic.execute"))
    _tg: anyio.abc.TaskGroup | None = attrs.field(init=False, default=None)
    _busy: dict[str, str] = attrs.field(init=False, factory=dict)  # target id -> action id
    _accepting: bool = attrs.field(init=False, default=True)
    _idle: anyio.Event = attrs.field(init=False, factory=anyio.Event)
    _running_plans: int = attrs.field(init=False, default=0)
    _awaiting: dict[str, _Awaiting] = attrs.field(init=False, factory=dict)
    gates: Gates = attrs.field(init=False, factory=Gates)

    def bind(self, tg: anyio.abc.TaskGroup) -> None:
        """Use ``tg`` for plans."""
        self._tg = tg

    @property
    def accepting(self) -> bool:
        """False once the supervisor is shutting down."""
        return self._accepting

    @property
    def in_flight(self) -> dict[str, str]:
        """Targets with an action in flight, to the action's id."""
        return dict(self._busy)

    def stop_accepting(self) -> None:
        """Hold every further action (shutdown)."""
        self._accepting = False

    async def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for in-flight plans; True if none is left."""
        if self._running_plans == 0:
            return True
        with anyio.move_on_after(timeout):
            await self._idle.wait()
        return self._running_plans == 0

    def _gate(
        self,
        manager: str,
        manager_entity: Entity | None,
        p: PlannedAction,
        now: float,
        reserved: set[str],
        settings: ManagerSettings,
    ) -> str | None:
        """Why ``p`` must be held back, or None."""
        if not self._accepting:
            return "held: the supervisor is shutting down"
        target = p.target_id
        if target in self._busy and target not in reserved:
            return f"held: action {self._busy[target]} is in flight on {target}"
        until = self.knowledge.state(target).cooldowns.get(p.spec.name)
        if until is not None and until > now:
            return f"held: cooldown of {target}.{p.spec.name} until {until:.3f} ({until - now:.1f} s)"
        if not p.target.attached:
            return f"held: {target} is no longer in the tree"
        return self.gates.check(manager_entity, p, now, settings.gates)

    async def submit(
        self,
        manager: str,
        round_id: str,
        plan: Sequence[PlannedAction],
        mode: Mode,
        settings: ManagerSettings | None = None,
        manager_entity: Entity | None = None,
    ) -> list[ActionRecord]:
        """Journal the plan's actions and start it; returns the records as journaled.

        In approve mode every action waits for :meth:`approve` (or expires);
        in dry-run mode nothing runs. Otherwise the gates decide, in order: an
        action held back holds back the rest of its plan.
        """
        settings = settings or ManagerSettings()
        now = self.clock.now()
        await self.expire_approvals()
        records: list[ActionRecord] = []
        accepted: list[tuple[PlannedAction, ActionRecord]] = []
        reserved: set[str] = set()
        blocked: str | None = None
        for p in plan:
            status, why = ActionStatus.PENDING, None
            if mode is Mode.DRY_RUN:
                status, why = ActionStatus.DRY_RUN, "dry-run: not invoked"
            elif mode is Mode.APPROVE:
                waiting = self._same_awaiting(manager, p)
                if waiting is not None:
                    records.append(waiting)  # asked again while waiting: one request, not a pile
                    continue
                expires = now + settings.gates.approval_timeout_s
                status, why = ActionStatus.AWAITING_APPROVAL, f"awaiting approval until {expires:.3f}"
            elif blocked is not None:
                status, why = ActionStatus.SKIPPED, blocked
            elif (held := self._gate(manager, manager_entity, p, now, reserved, settings)) is not None:
                status, why = ActionStatus.HELD, held
                blocked = f"skipped: an earlier action of this decision was {held}"
            rec = ActionRecord(
                id=self.knowledge.next_action_id(),
                round_id=round_id,
                manager=manager,
                target=p.target_id,
                effector=p.spec.name,
                args=p.args,
                reason=p.reason,
                status=status,
                idempotent=p.spec.idempotent,
                requested=now,
                error=why,
                finished=now if status.final else None,
            )
            await self.knowledge.begin_action(rec)
            records.append(rec)
            if self.metrics is not None and status is not ActionStatus.PENDING:
                self.metrics.actions.labels(p.spec.name, status.value).inc()
            if status is ActionStatus.AWAITING_APPROVAL:
                self._awaiting[rec.id] = _Awaiting(
                    p, rec, settings, manager_entity, now + settings.gates.approval_timeout_s
                )
            elif status is ActionStatus.PENDING:
                self.gates.admitted(manager_entity, p, now)
                accepted.append((p, rec))
                reserved.add(p.target_id)
                self._busy[p.target_id] = rec.id
        if accepted:
            self._start_plan(manager, accepted, settings)
        return records

    def _start_plan(
        self, manager: str, accepted: list[tuple[PlannedAction, ActionRecord]], settings: ManagerSettings
    ) -> None:
        if self._tg is None:
            raise RuntimeError("executor is not bound to a task group")
        self._running_plans += 1
        if self._idle.is_set():
            self._idle = anyio.Event()
        self._tg.start_soon(self._run_plan, manager, accepted, settings, name=f"plan:{accepted[0][1].round_id}")

    # -- approvals ---------------------------------------------------------------------
    def _same_awaiting(self, manager: str, p: PlannedAction) -> ActionRecord | None:
        for a in self._awaiting.values():
            r = a.record
            if r.manager == manager and r.target == p.target_id and r.effector == p.spec.name and r.args == p.args:
                return r
        return None

    def awaiting_approval(self) -> list[ActionRecord]:
        """Actions waiting for an operator, oldest first."""
        return [a.record for a in self._awaiting.values()]

    async def expire_approvals(self) -> None:
        """Journal as expired the actions nobody approved in time."""
        now = self.clock.now()
        for action_id, a in list(self._awaiting.items()):
            if a.expires <= now:
                del self._awaiting[action_id]
                await self.knowledge.update_action(
                    attrs.evolve(
                        a.record,
                        status=ActionStatus.EXPIRED,
                        finished=now,
                        error=f"expired: not approved by {a.expires:.3f}",
                    )
                )

    async def approve(self, action_id: str, actor: str) -> ActionRecord:
        """Run an action that waits for approval (gates apply now); raise KeyError if none waits."""
        await self.expire_approvals()
        a = self._awaiting.pop(action_id, None)
        if a is None:
            raise KeyError(f"no action {action_id} is awaiting approval")
        now = self.clock.now()
        rec = attrs.evolve(a.record, reason=f"{a.record.reason} (approved by {actor})".strip())
        held = self._gate(rec.manager, a.manager_entity, a.planned, now, set(), a.settings)
        if held is not None:
            rec = attrs.evolve(rec, status=ActionStatus.HELD, error=held, finished=now)
            await self.knowledge.update_action(rec)
            return rec
        rec = attrs.evolve(rec, status=ActionStatus.PENDING, error=None)
        await self.knowledge.update_action(rec)
        self.gates.admitted(a.manager_entity, a.planned, now)
        self._busy[rec.target] = rec.id
        self._start_plan(rec.manager, [(a.planned, rec)], a.settings)
        return rec

    async def reject(self, action_id: str, actor: str) -> ActionRecord:
        """Refuse an action that waits for approval; raise KeyError if none waits."""
        a = self._awaiting.pop(action_id, None)
        if a is None:
            raise KeyError(f"no action {action_id} is awaiting approval")
        rec = attrs.evolve(
            a.record, status=ActionStatus.REJECTED, finished=self.clock.now(), error=f"rejected by {actor}"
        )
        await self.knowledge.update_action(rec)
        return rec

    async def _run_plan(
        self, manager: str, plan: list[tuple[PlannedAction, ActionRecord]], settings: ManagerSettings
    ) -> None:
        cooldowns = settings.cooldowns
        failed: str | None = None
        try:
            for p, rec in plan:
                if failed is not None:
                    done = attrs.evolve(rec, status=ActionStatus.SKIPPED, error=failed, finished=self.clock.now())
                    await self.knowledge.update_action(done)
                    self._release(p.target_id, rec.id)
                    continue
                running = attrs.evolve(rec, status=ActionStatus.RUNNING, started=self.clock.now())
                await self.knowledge.update_action(running)
                outcome = await invoke_effector(self.clock, p.target, p.spec.name, p.args)
                done = attrs.evolve(
                    running,
                    status=outcome.status,
                    started=outcome.started,
                    finished=outcome.finished,
                    result=outcome.result,
                    error=outcome.error,
                )
                with anyio.CancelScope(shield=True):
                    await self.knowledge.update_action(done)
                self._release(p.target_id, rec.id)
                cool = max(p.spec.cooldown, cooldowns.get(p.spec.name, 0.0))
                if cool > 0 and math.isfinite(cool):
                    self.knowledge.start_cooldown(p.target_id, p.spec.name, outcome.finished + cool)
                if self.gates.outcome(p, outcome.status, outcome.finished, settings.gates):
                    self.log.warning(
                        "circuit_open",
                        effector=p.spec.name,
                        type=p.target.type_name,
                        until=outcome.finished + settings.gates.breaker_reset_s,
                    )
                if self.metrics is not None:
                    self.metrics.actions.labels(p.spec.name, outcome.status.value).inc()
                    self.metrics.effector_duration.labels(p.spec.name).observe(outcome.duration)
                self.log.info(
                    "action",
                    action=rec.id,
                    entity=manager,
                    target=p.target_id,
                    effector=p.spec.name,
                    args=p.args,
                    status=outcome.status.value,
                    duration_s=round(outcome.duration, 6),
                    error=outcome.error,
                )
                if outcome.status is not ActionStatus.OK:
                    failed = f"skipped: action {rec.id} ({p.target_id}.{p.spec.name}) ended {outcome.status.value}"
        finally:
            for p, rec in plan:
                self._release(p.target_id, rec.id)
            self._running_plans -= 1
            if self._running_plans == 0:
                self._idle.set()

    def _release(self, target: str, action_id: str) -> None:
        if self._busy.get(target) == action_id:
            del self._busy[target]
