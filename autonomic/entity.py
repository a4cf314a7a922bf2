"""The managed entity: the class users subclass.

An entity has an id (its path in the tree), a type name, typed config,
a lifecycle, sensors, effectors and children. It knows nothing of managers or
policies: the runtime it is attached to (an :class:`EntityContext`) routes its
changes to whoever watches them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, ClassVar, Protocol

import anyio
import attrs
import structlog

from autonomic._convert import structure, unstructure
from autonomic.clock import Clock, SystemClock
from autonomic.effector import EffectorSpec, effector, effector_spec
from autonomic.enrichers import ChildEnricher, SelfEnricher
from autonomic.errors import ConfigError
from autonomic.lifecycle import Lifecycle, LifecycleState
from autonomic.sensor import Sensor, SensorSpec, SensorState, check_sensor_value

__all__ = ["Entity", "EntityContext", "NoConfig"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_MAX_PROBLEMS = 100
_DETACHED_CLOCK = SystemClock()


@attrs.frozen(kw_only=True)
class NoConfig:
    """The config of an entity type that takes none."""


class EntityContext(Protocol):
    """What an entity may ask of the runtime it is attached to: a narrow service object."""

    clock: Clock
    #: sensor names that some manager watches; publishing others costs nothing extra
    watched: set[str]

    def logger(self, entity: Entity) -> structlog.typing.FilteringBoundLogger:
        """A logger bound to the entity."""

    def attached(self, entity: Entity) -> None:
        """``entity`` has entered the tree."""

    def detached(self, entity: Entity) -> None:
        """``entity`` has left the tree."""

    def status_changed(self, entity: Entity, field: str, old: Any, new: Any) -> None:
        """``lifecycle``, ``up`` or ``ready`` of ``entity`` changed."""

    def sensor_changed(self, entity: Entity, name: str, old: Any, new: Any) -> None:
        """A watched sensor of ``entity`` changed value."""

    def record_history(self, entity: Entity, name: str, record: dict[str, Any]) -> None:
        """Append a record to one of the entity's named histories in Knowledge."""

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str) -> None:
        """Run a background task for the entity in the supervisor's task group."""

    def create_entity(self, spec: Mapping[str, Any], *, name: str) -> Entity:
        """Build an entity (and its management) from a blueprint-style spec."""


class Entity:
    """Base class of managed entities.

    Subclasses declare:

    - ``Config``: an attrs class (frozen, keyword-only) for typed config;
    - sensors as class attributes (:class:`~autonomic.sensor.Sensor`);
    - effectors as async methods decorated with :func:`~autonomic.effector.effector`;
    - optionally ``on_start``/``on_stop`` hooks and an async ``poll`` that reads
      values the monitor must fetch each round.

    ``type_name`` is given as a class keyword (``class Web(Entity, type_name="web")``);
    by default it is the class's dotted path.
    """

    Config: ClassVar[type[Any]] = NoConfig
    type_name: ClassVar[str] = "autonomic.entity.Entity"

    _sensor_specs: ClassVar[dict[str, SensorSpec]] = {}
    _effector_specs: ClassVar[dict[str, EffectorSpec]] = {}
    _child_enrichers: ClassVar[tuple[tuple[str, ChildEnricher], ...]] = ()
    _child_sources: ClassVar[frozenset[str]] = frozenset()
    _self_enrichers: ClassVar[dict[str, tuple[tuple[str, SelfEnricher], ...]]] = {}
    _has_poll: ClassVar[bool] = False

    def __init_subclass__(cls, *, type_name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = type_name or cls.__dict__.get("type_name") or f"{cls.__module__}.{cls.__qualname__}"
        sensors: dict[str, SensorSpec] = {}
        effectors: dict[str, EffectorSpec] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, Sensor):
                    sensors[attr] = value.spec
                elif (spec := effector_spec(value)) is not None:
                    effectors[attr] = spec
                elif attr in effectors and callable(value):
                    # Overriding an effector without the decorator keeps its declaration.
                    pass
        cls._sensor_specs = sensors
        cls._effector_specs = effectors
        child = tuple((n, s.enricher) for n, s in sensors.items() if isinstance(s.enricher, ChildEnricher))
        cls._child_enrichers = child
        cls._child_sources = frozenset(e.source for _, e in child if e.source)
        own: dict[str, list[tuple[str, SelfEnricher]]] = {}
        for n, s in sensors.items():
            if isinstance(s.enricher, SelfEnricher):
                if s.enricher.source not in sensors:
                    raise TypeError(f"{cls.__qualname__}.{n}: enricher source {s.enricher.source!r} is not a sensor")
                own.setdefault(s.enricher.source, []).append((n, s.enricher))
        cls._self_enrichers = {k: tuple(v) for k, v in own.items()}
        cls._has_poll = cls.poll is not Entity.poll

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        if not _NAME.match(name):
            raise ValueError(f"entity name {name!r} must match {_NAME.pattern}")
        self.name = name
        self.config: Any = self._structure_config(config)
        self.depends_on: tuple[str, ...] = tuple(depends_on)
        self._id = name
        self._parent: Entity | None = None
        self._children: dict[str, Entity] = {}
        self._sensors = {n: SensorState(spec, self) for n, spec in self._sensor_specs.items()}
        self._lifecycle = LifecycleState()
        self._not_up: dict[str, str] = {}
        self._ready_flag = True
        self._ctx: EntityContext | None = None
        self._dirty = bool(self._child_enrichers)
        self._enricher_state: dict[str, Any] = {}
        self._problems: list[str] = []
        self._config_json: Any = None

    # -- config -------------------------------------------------------------------------
    @classmethod
    def _structure_config(cls, config: Any) -> Any:
        if isinstance(config, cls.Config):
            return config
        value, problems = structure(config if config is not None else {}, cls.Config, path="config")
        if problems:
            raise ConfigError(f"{cls.type_name}: " + "; ".join(f"{p}: {m}" for p, m in problems))
        return value

    @property
    def config_json(self) -> Any:
        """The config as plain JSON data (what policies see)."""
        if self._config_json is None:
            self._config_json = unstructure(self.config)
        return self._config_json

    # -- identity and tree ---------------------------------------------------------------
    @property
    def id(self) -> str:
        """The entity's path in the tree, e.g. ``shop/eu-west/web/worker-3``."""
        return self._id

    @property
    def parent(self) -> Entity | None:
        """The containing entity, or None for the root."""
        return self._parent

    @property
    def children(self) -> list[Entity]:
        """The direct children, in the order they were added."""
        return list(self._children.values())

    def child(self, name: str) -> Entity:
        """The direct child called ``name``."""
        try:
            return self._children[name]
        except KeyError:
            raise KeyError(f"{self.id} has no child {name!r}") from None

    def walk(self) -> Iterator[Entity]:
        """This entity and all its descendants, parents before children."""
        yield self
        for c in list(self._children.values()):
            yield from c.walk()

    def find(self, entity_id: str) -> Entity | None:
        """The entity with ``entity_id`` in this subtree, or None."""
        if entity_id == self._id:
            return self
        prefix = self._id + "/"
        if not entity_id.startswith(prefix):
            return None
        node: Entity = self
        for part in entity_id[len(prefix) :].split("/"):
            nxt = node._children.get(part)
            if nxt is None:
                return None
            node = nxt
        return node

    def add_child(self, child: Entity) -> Entity:
        """Add ``child`` (which must not have a parent) and return it."""
        if child._parent is not None:
            raise ValueError(f"{child.id} already has a parent")
        if child.name in self._children:
            raise ValueError(f"{self.id} already has a child named {child.name!r}")
        self._children[child.name] = child
        child._parent = self
        for e in child.walk():
            e._id = e.name if e._parent is None else f"{e._parent._id}/{e.name}"
        self._dirty = bool(self._child_enrichers)
        if self._ctx is not None:
            child._attach(self._ctx)
        return child

    def remove_child(self, name: str) -> Entity:
        """Detach the child called ``name`` (and its subtree) and return it."""
        child = self.child(name)
        if child._ctx is not None:
            child._detach()
        del self._children[name]
        child._parent = None
        for e in child.walk():
            e._id = e.name if e._parent is None else f"{e._parent._id}/{e.name}"
        self._dirty = bool(self._child_enrichers)
        return child

    def _attach(self, ctx: EntityContext) -> None:
        for e in self.walk():
            e._ctx = ctx
            ctx.attached(e)

    def _detach(self) -> None:
        for e in reversed(list(self.walk())):
            if e._ctx is not None:
                e._ctx.detached(e)
            e._ctx = None

    # -- runtime services ----------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        """The clock of the runtime (the system clock while detached)."""
        return self._ctx.clock if self._ctx is not None else _DETACHED_CLOCK

    def now(self) -> float:
        """The current time from the clock."""
        return self.clock.now()

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger:
        """A structlog logger bound to this entity."""
        if self._ctx is not None:
            return self._ctx.logger(self)
        logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("autonomic.entity").bind(entity=self._id)
        return logger

    @property
    def attached(self) -> bool:
        """Whether the entity is part of a running tree."""
        return self._ctx is not None

    @property
    def context(self) -> EntityContext:
        """The runtime context; raises if the entity is not attached."""
        if self._ctx is None:
            raise RuntimeError(f"{self.id} is not attached to a supervisor runtime")
        return self._ctx

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str = "") -> None:
        """Run ``fn(*args)`` in the background, in the supervisor's task group."""
        self.context.start_soon(fn, *args, name=f"{self.id}:{name or getattr(fn, '__name__', 'task')}")

    def record_history(self, name: str, **fields: Any) -> None:
        """Append ``{**fields, "time": now}`` to the named history policies read."""
        if self._ctx is not None:
            self._ctx.record_history(self, name, {**fields, "time": self.now()})

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def lifecycle(self) -> LifecycleState:
        """Expected and actual lifecycle state, and since when."""
        return self._lifecycle

    @property
    def up(self) -> bool:
        """Alive: running, with no not-up reason."""
        return self._lifecycle.actual is Lifecycle.RUNNING and not self._not_up

    @property
    def not_up_reasons(self) -> dict[str, str]:
        """Why the entity is not up (reason key to text)."""
        return dict(self._not_up)

    @property
    def ready(self) -> bool:
        """Able to take work (up, and not marked unready)."""
        return self.up and self._ready_flag

    def set_lifecycle(self, actual: Lifecycle, *, expected: Lifecycle | None = None) -> None:
        """Move the actual (and optionally expected) lifecycle state."""
        old = self._lifecycle
        new = LifecycleState(
            expected=expected if expected is not None else old.expected,
            actual=actual,
            since=self.now() if actual is not old.actual else old.since,
        )
        if new == old:
            return
        old_up, old_ready = self.up, self.ready
        self._lifecycle = new
        self._status_changed("lifecycle", old.actual, new.actual)
        self._up_ready_changed(old_up, old_ready)

    def set_not_up(self, key: str, reason: str) -> None:
        """Mark the entity not up for ``reason`` under ``key`` (cleared by :meth:`clear_not_up`)."""
        if self._not_up.get(key) == reason:
            return
        old_up, old_ready = self.up, self.ready
        self._not_up[key] = reason
        self._up_ready_changed(old_up, old_ready)

    def clear_not_up(self, key: str) -> None:
        """Remove one not-up reason."""
        if key not in self._not_up:
            return
        old_up, old_ready = self.up, self.ready
        del self._not_up[key]
        self._up_ready_changed(old_up, old_ready)

    def set_ready(self, ready: bool) -> None:
        """Say whether the entity can take work (a readiness probe's answer)."""
        if ready == self._ready_flag:
            return
        old_up, old_ready = self.up, self.ready
        self._ready_flag = ready
        self._up_ready_changed(old_up, old_ready)

    def _up_ready_changed(self, old_up: bool, old_ready: bool) -> None:
        if self.up != old_up:
            self._status_changed("up", old_up, self.up)
        if self.ready != old_ready:
            self._status_changed("ready", old_ready, self.ready)

    def _status_changed(self, field: str, old: Any, new: Any) -> None:
        if self._parent is not None and self._parent._child_enrichers:
            self._parent._dirty = True
        if self._ctx is not None:
            self._ctx.status_changed(self, field, old, new)

    # -- sensors -------------------------------------------------------------------------
    @property
    def sensor_specs(self) -> Mapping[str, SensorSpec]:
        """The declared sensors."""
        return self._sensor_specs

    def sensor(self, name: str) -> SensorState:
        """The sensor called ``name``; raises KeyError naming the declared ones."""
        try:
            return self._sensors[name]
        except KeyError:
            raise KeyError(
                f"{self.id} ({self.type_name}) has no sensor {name!r}; declared: {', '.join(sorted(self._sensors))}"
            ) from None

    def find_sensor(self, name: str) -> SensorState | None:
        """The sensor called ``name``, or None."""
        return self._sensors.get(name)

    def sensor_values(self) -> dict[str, Any]:
        """Every sensor's current value (None when unknown or stale), after enrichment."""
        self.refresh()
        return {n: (None if s.stale else s.value) for n, s in self._sensors.items()}

    def sensor_times(self) -> dict[str, float]:
        """When each published sensor was last published."""
        return {n: s.time for n, s in self._sensors.items() if s.time is not None}

    def publish(self, name: str, value: Any, *, time: float | None = None) -> None:
        """Publish ``value`` on the sensor called ``name``."""
        self._publish(self.sensor(name), value, time)

    def refresh(self) -> None:
        """Recompute enriched aggregates of children if anything they read changed."""
        if not self._dirty:
            return
        self._dirty = False
        children = list(self._children.values())
        for target, enricher in self._child_enrichers:
            self._publish(self._sensors[target], enricher.compute(children), None)

    def _publish(self, state: SensorState, value: Any, time: float | None) -> None:
        t = self.now() if time is None else time
        accepted, problem = check_sensor_value(state.spec.kind, value, nullable=state.spec.nullable)
        old = None if state.stale else state.value
        state.value = accepted
        state.time = t
        state.stale = False
        state.history.append(t, accepted)
        if problem is not None:
            if state.problem != problem:
                state.problem = problem
                self.report_problem(f"sensor {state.spec.name}: {problem}")
        else:
            state.problem = None
        name = state.spec.name
        parent = self._parent
        if parent is not None and name in parent._child_sources:
            parent._dirty = True
        derived = self._self_enrichers.get(name)
        if derived:
            for target, enricher in derived:
                st = self._enricher_state.get(target)
                if st is None:
                    st = enricher.new_state()
                st, out = enricher.update(st, t, accepted)
                self._enricher_state[target] = st
                if out is not None:
                    self._publish(self._sensors[target], out, t)
        ctx = self._ctx
        if ctx is not None and accepted != old and name in ctx.watched:
            ctx.sensor_changed(self, name, old, accepted)

    def _mark_stale(self, state: SensorState, reason: str) -> None:
        if state.stale:
            return
        old = state.value
        state.stale = True
        parent = self._parent
        if parent is not None and state.spec.name in parent._child_sources:
            parent._dirty = True
        self.report_problem(f"sensor {state.spec.name}: stale ({reason})")
        ctx = self._ctx
        if ctx is not None and old is not None and state.spec.name in ctx.watched:
            ctx.sensor_changed(self, state.spec.name, old, None)

    def report_problem(self, problem: str) -> None:
        """Report a problem the entity's manager journals in its next round (and log it now)."""
        self.log.warning("entity_problem", problem=problem)
        if len(self._problems) < _MAX_PROBLEMS:
            self._problems.append(problem)

    def take_problems(self) -> list[str]:
        """The problems reported since the last call (the monitor drains them)."""
        out, self._problems = self._problems, []
        return out

    async def poll(self) -> None:
        """Read values that must be fetched (override); the monitor calls it each round."""

    # -- effectors -----------------------------------------------------------------------
    @property
    def effector_specs(self) -> Mapping[str, EffectorSpec]:
        """The declared effectors."""
        return self._effector_specs

    def effector_method(self, name: str) -> Callable[..., Awaitable[Any]]:
        """The bound method of the effector called ``name``."""
        if name not in self._effector_specs:
            raise KeyError(f"{self.id} has no effector {name!r}")
        method: Callable[..., Awaitable[Any]] = getattr(self, name)
        return method

    async def on_start(self) -> None:
        """Bring the entity's own resources up (override); children start after it."""

    async def on_stop(self) -> None:
        """Release the entity's own resources (override); children stop before it."""

    @effector(timeout=300, idempotent=True, description="start the entity, then its children")
    async def start(self) -> None:
        """Start the entity (``on_start``), then its children, concurrently."""
        if self._lifecycle.actual is Lifecycle.RUNNING:
            return
        self.set_lifecycle(Lifecycle.STARTING, expected=Lifecycle.RUNNING)
        try:
            await self.on_start()
            async with anyio.create_task_group() as tg:
                for c in self.children:
                    tg.start_soon(c.start)
        except BaseException:
            self.set_lifecycle(Lifecycle.ON_FIRE)
            raise
        self.set_lifecycle(Lifecycle.RUNNING)

    @effector(timeout=300, idempotent=True, description="stop the children, then the entity")
    async def stop(self) -> None:
        """Stop the children, concurrently, then the entity (``on_stop``)."""
        if self._lifecycle.actual is Lifecycle.STOPPED:
            return
        self.set_lifecycle(Lifecycle.STOPPING, expected=Lifecycle.STOPPED)
        try:
            async with anyio.create_task_group() as tg:
                for c in self.children:
                    tg.start_soon(c.stop)
            await self.on_stop()
        except BaseException:
            self.set_lifecycle(Lifecycle.ON_FIRE)
            raise
        self.set_lifecycle(Lifecycle.STOPPED)

    @effector(timeout=600, idempotent=False, description="stop, then start again")
    async def restart(self) -> None:
        """Stop, then start."""
        await self.stop()
        await self.start()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self._lifecycle.actual.value}>"
