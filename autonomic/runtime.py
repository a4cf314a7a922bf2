"""The runtime: an entity tree with its managers and executor in one task group.

It is the :class:`~autonomic.entity.EntityContext` entities talk to, and it
routes what they say: lifecycle changes and escalations become events for
managers and trigger rounds; watched sensors trigger rounds; named histories
go to Knowledge. The supervisor daemon wraps one runtime; tests and
simulations use it directly.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import attrs
import structlog

from autonomic.clock import Clock
from autonomic.effector import check_args
from autonomic.entity import Entity
from autonomic.errors import DecisionError
from autonomic.knowledge.knowledge import Knowledge
from autonomic.knowledge.records import ActionRecord, ActionStatus, RoundRecord
from autonomic.mape.execute import Executor
from autonomic.mape.loop import Manager
from autonomic.mape.settings import ManagementSpec, Mode
from autonomic.mape.validate import PlannedAction
from autonomic.observability import Metrics
from autonomic.policy.decision import Escalation
from autonomic.policy.engine import PolicyEngine

__all__ = ["EntityFactory", "Runtime"]

#: builds an entity from a blueprint-style spec, with the management of each entity in it
EntityFactory = Callable[[Mapping[str, Any], str], tuple[Entity, list[tuple[Entity, ManagementSpec]]]]


def _leaf_errors(exc: BaseException) -> list[str]:
    """The errors inside (nested) exception groups, as text."""
    if isinstance(exc, BaseExceptionGroup):
        return [text for inner in exc.exceptions for text in _leaf_errors(inner)]
    return [f"{type(exc).__name__}: {exc}"]


async def _as_coroutine(fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
    await fn(*args)


@attrs.define(eq=False)
class Runtime:
    """Runs a tree of entities and their managers.

    ``management`` maps entity ids to how they are managed; entities added
    later (cluster members) get managers through :meth:`manage` or the
    ``factory`` used by :meth:`create_entity`.
    """

    root: Entity
    engine: PolicyEngine
    knowledge: Knowledge
    clock: Clock
    management: dict[str, ManagementSpec] = attrs.field(factory=dict)
    metrics: Metrics | None = None
    factory: EntityFactory | None = None
    start_entities: bool = True
    restore_state: bool = False
    drain_timeout: float = 30.0
    watched: set[str] = attrs.field(init=False, factory=set)
    managers: dict[str, Manager] = attrs.field(init=False, factory=dict)
    executor: Executor = attrs.field(init=False)
    _tg: anyio.abc.TaskGroup | None = attrs.field(init=False, default=None)
    _scopes: dict[str, anyio.CancelScope] = attrs.field(init=False, factory=dict)
    _log: Any = attrs.field(init=False, factory=lambda: structlog.get_logger("autonomic.runtime"))
    _loggers: dict[str, Any] = attrs.field(init=False, factory=dict)
    _started: bool = attrs.field(init=False, default=False)
    #: called on every lifecycle, up or ready change (the API's event stream listens here)
    status_listeners: list[Callable[[Entity, str, Any, Any], None]] = attrs.field(init=False, factory=list)
    #: management for entities built but not attached yet (their ids are known only then)
    _pending: weakref.WeakKeyDictionary[Entity, ManagementSpec] = attrs.field(
        init=False, factory=weakref.WeakKeyDictionary
    )

    def __attrs_post_init__(self) -> None:
        self.executor = Executor(self.clock, self.knowledge, self.metrics)

    # -- EntityContext -------------------------------------------------------------------
    def logger(self, entity: Entity) -> Any:
        """A logger bound to the entity."""
        log = self._loggers.get(entity.id)
        if log is None:
            log = self._loggers[entity.id] = self._log.bind(entity=entity.id)
        return log

    def attached(self, entity: Entity) -> None:
        """Register the entity in the graph, and start its manager if it is managed."""
        parent = entity.parent
        self.knowledge.graph.add(entity.id, entity.type_name, parent.id if parent else None, entity.depends_on)
        if self.metrics is not None:
            self.metrics.entities.inc()
        pending = self._pending.pop(entity, None)
        if pending is not None:
            self.management[entity.id] = pending
        spec = self.management.get(entity.id)
        if spec is not None and self._started:
            self._start_manager(entity, spec)

    def detached(self, entity: Entity) -> None:
        """Forget the entity and stop its manager."""
        self.knowledge.graph.remove(entity.id)
        self._loggers.pop(entity.id, None)
        if self.metrics is not None:
            self.metrics.entities.dec()
        scope = self._scopes.pop(entity.id, None)
        if scope is not None:
            scope.cancel()
        if self.managers.pop(entity.id, None) is not None and self.metrics is not None:
            self.metrics.managers.dec()
        self.management.pop(entity.id, None)

    def _manager_above(self, entity: Entity) -> Manager | None:
        node = entity.parent
        while node is not None:
            m = self.managers.get(node.id)
            if m is not None:
                return m
            node = node.parent
        return None

    def status_changed(self, entity: Entity, field: str, old: Any, new: Any) -> None:
        """Lifecycle events for the entity's and its parent's managers; trigger their rounds."""
        for listener in self.status_listeners:
            listener(entity, field, old, new)
        now = self.clock.now()
        for m in (self.managers.get(entity.id), self._manager_above(entity)):
            if m is None:
                continue
            if field == "lifecycle":
                m.add_event({"type": "lifecycle", "source": entity.id, "from": str(old), "to": str(new), "time": now})
            if m.spec.settings.triggers.lifecycle:
                m.trigger(f"{field}:{entity.id}")

    def sensor_changed(self, entity: Entity, name: str, old: Any, new: Any) -> None:
        """Trigger the rounds of managers watching this sensor (of self or of a child)."""
        own = self.managers.get(entity.id)
        if own is not None:
            t = own.spec.settings.triggers
            if name in t.sensors or any(
                th.sensor == name and not th.children and th.crossed(old, new) for th in t.thresholds
            ):
                own.trigger(f"sensor:{name}")
        parent = entity.parent
        pm = self.managers.get(parent.id) if parent is not None else None
        if pm is not None:
            t = pm.spec.settings.triggers
            if name in t.child_sensors or any(
                th.sensor == name and th.children and th.crossed(old, new) for th in t.thresholds
            ):
                pm.trigger(f"sensor:{entity.id}.{name}")

    def record_history(self, entity: Entity, name: str, record: dict[str, Any]) -> None:
        """Append to a named history in Knowledge."""
        self.knowledge.record_history(entity.id, name, record)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str) -> None:
        """Run a background task in the runtime's task group."""
        if self._tg is None:
            raise RuntimeError("the runtime is not running")
        self._tg.start_soon(_as_coroutine, fn, args, name=name)

    def create_entity(self, spec: Mapping[str, Any], *, name: str) -> Entity:
        """Build an entity from a blueprint-style spec; its management starts when it is attached."""
        if self.factory is None:
            raise RuntimeError("this runtime has no entity factory (it was not built from a blueprint)")
        entity, management = self.factory(spec, name)
        for e, mspec in management:
            self._pending[e] = mspec
        return entity

    # -- operators -----------------------------------------------------------------------
    async def invoke(
        self, target_id: str, effector: str, args: Mapping[str, Any], *, actor: str, reason: str = ""
    ) -> ActionRecord:
        """Invoke an effector on behalf of an operator, through the executor's gates and journal.

        Raises :class:`~autonomic.errors.DecisionError` when the target, effector or
        arguments are wrong (nothing is journaled then). The returned record is the
        action as journaled (``pending``, or ``held`` with the reason); the outcome
        follows in the journal.
        """
        target = self.root.find(target_id)
        if target is None:
            raise DecisionError(f"no entity {target_id!r}")
        spec = target.effector_specs.get(effector)
        if spec is None:
            raise DecisionError(
                f"effector {effector!r} is not declared by {target_id}; declared: {', '.join(sorted(target.effector_specs))}"
            )
        try:
            checked = check_args(spec, dict(args))
        except ValueError as exc:
            raise DecisionError(str(exc)) from None
        plan = [PlannedAction(target=target, spec=spec, args=checked, reason=reason or f"invoked by {actor}")]
        (record,) = await self.executor.submit(f"operator:{actor}", "manual", plan, Mode.ENFORCE)
        return record

    # -- managers ------------------------------------------------------------------------
    def manage(self, entity: Entity, spec: ManagementSpec) -> None:
        """Manage ``entity`` (now if running, else at start)."""
        self.management[entity.id] = spec
        if self._started and entity.attached:
            self._start_manager(entity, spec)

    def _escalate(self, entity: Entity, escalations: tuple[Escalation, ...]) -> None:
        target = self._manager_above(entity)
        if target is None:
            self.logger(entity).error(
                "escalation_unhandled", symptoms=[e.symptom for e in escalations], reason="no manager above"
            )
            return
        now = self.clock.now()
        for e in escalations:
            target.add_event(
                {"type": "escalation", "source": entity.id, "symptom": e.symptom, "detail": e.detail, "time": now}
            )
        if target.spec.settings.triggers.escalations:
            target.trigger(f"escalation:{entity.id}")

    def _start_manager(self, entity: Entity, spec: ManagementSpec) -> None:
        if entity.id in self.managers or self._tg is None:
            return
        m = Manager(
            entity=entity,
            spec=spec,
            engine=self.engine,
            knowledge=self.knowledge,
            executor=self.executor,
            clock=self.clock,
            escalate=self._escalate,
            metrics=self.metrics,
            log=self.logger(entity),
        )
        self.managers[entity.id] = m
        t = spec.settings.triggers
        self.watched.update(t.sensors, t.child_sensors, (th.sensor for th in t.thresholds))
        scope = anyio.CancelScope()
        self._scopes[entity.id] = scope
        if self.metrics is not None:
            self.metrics.managers.inc()

        async def run() -> None:
            with scope:
                if self.restore_state:
                    await self.knowledge.restore(entity.id)
                await m.run()

        self._tg.start_soon(run, name=f"manager:{entity.id}")

    # -- running ---------------------------------------------------------------------------
    @asynccontextmanager
    async def running(self) -> AsyncIterator[Runtime]:
        """Attach the tree, start entities and managers; on exit shut down in order.

        Shutdown: stop starting actions, wait up to ``drain_timeout`` for those in
        flight, stop the managers, flush Knowledge.
        """
        # What the previous run left in flight, read before this run journals anything.
        leftovers = await self.knowledge.store.unfinished_actions() if self.restore_state else []
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self.executor.bind(tg)
            self.root._attach(self)
            self._started = True
            for entity in self.root.walk():
                spec = self.management.get(entity.id)
                if spec is not None:
                    self._start_manager(entity, spec)
            tg.start_soon(self._start_and_recover, leftovers, name="start-tree")
            try:
                yield self
            finally:
                with anyio.CancelScope(shield=True):
                    await self.shutdown()
                tg.cancel_scope.cancel()

    async def _start_and_recover(self, leftovers: list[ActionRecord]) -> None:
        if self.start_entities:
            try:
                await self.root.start()
            except Exception as exc:  # the tree is on fire; managers see it and act
                self._log.error("start_failed", entity=self.root.id, errors=_leaf_errors(exc))
        if leftovers:
            await self.recover(leftovers)

    async def recover(self, leftovers: list[ActionRecord]) -> list[str]:
        """Reconcile ``leftovers``, actions a previous run journaled as in flight (a crash, a kill -9).

        Each is marked ``unknown``. An idempotent one whose target still exists is
        run again (a new action that names the old one); a non-idempotent one is
        never repeated: it is escalated to the manager that decided it (or the
        nearest above its target) as ``action_outcome_unknown``. An action that
        waited for approval expires. Returns what was done, one line each, also
        journaled as a ``recovery`` round of the root.
        """
        lines: list[str] = []
        started = self.clock.now()
        for rec in leftovers:
            now = self.clock.now()
            if rec.status is ActionStatus.AWAITING_APPROVAL:
                await self.knowledge.update_action(
                    attrs.evolve(
                        rec,
                        status=ActionStatus.EXPIRED,
                        finished=now,
                        error="expired: the supervisor restarted before it was approved",
                    )
                )
                lines.append(f"{rec.id} {rec.target}.{rec.effector}: awaiting approval at restart, expired")
                continue
            unknown = attrs.evolve(
                rec,
                status=ActionStatus.UNKNOWN,
                finished=now,
                error=f"in flight ({rec.status.value}) when the supervisor stopped: outcome unknown",
            )
            await self.knowledge.update_action(unknown)
            target = self.root.find(rec.target)
            spec = target.effector_specs.get(rec.effector) if target is not None else None
            if rec.idempotent and target is not None and spec is not None:
                plan = [
                    PlannedAction(
                        target=target,
                        spec=spec,
                        args=rec.args,
                        reason=f"re-run after restart: {rec.id} was in flight ({rec.reason})",
                    )
                ]
                manager = self.managers.get(rec.manager)
                (again,) = await self.executor.submit(
                    rec.manager,
                    f"recovery:{rec.id}",
                    plan,
                    Mode.ENFORCE,
                    manager.spec.settings if manager is not None else None,
                    manager.entity if manager is not None else None,
                )
                lines.append(
                    f"{rec.id} {rec.target}.{rec.effector}: idempotent, re-run as {again.id} ({again.status.value})"
                )
                continue
            manager = self.managers.get(rec.manager) or (self._manager_above(target) if target is not None else None)
            detail = {"action": unknown.to_json()}
            if manager is not None:
                manager.add_event(
                    {
                        "type": "escalation",
                        "source": rec.target,
                        "symptom": "action_outcome_unknown",
                        "detail": detail,
                        "time": now,
                    }
                )
                manager.trigger(f"recovery:{rec.id}")
            self._log.error(
                "action_outcome_unknown",
                action=rec.id,
                target=rec.target,
                effector=rec.effector,
                escalated_to=manager.entity.id if manager is not None else None,
            )
            lines.append(
                f"{rec.id} {rec.target}.{rec.effector}: not idempotent, outcome unknown, not repeated; escalated to "
                f"{manager.entity.id if manager is not None else 'nobody (no manager)'}"
            )
        if lines:
            await self.knowledge.journal_round(
                RoundRecord(
                    id=self.knowledge.next_round_id(),
                    entity=self.root.id,
                    started=started,
                    finished=self.clock.now(),
                    trigger="recovery",
                    mode="recovery",
                    problems=tuple(lines),
                )
            )
        return lines

    async def shutdown(self) -> None:
        """Stop starting actions, drain in-flight ones, stop managers, flush Knowledge."""
        self.executor.stop_accepting()
        drained = await self.executor.drain(self.drain_timeout)
        if not drained:
            self._log.warning("shutdown_actions_left", in_flight=self.executor.in_flight)
        for scope in self._scopes.values():
            scope.cancel()
        for entity_id in list(self.managers):
            await self.knowledge.persist(entity_id, everything=True)
