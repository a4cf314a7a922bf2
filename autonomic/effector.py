"""Effectors: the async operations through which an entity changes the world.

Declared with a decorator that states the whole contract where the code is::

    @effector(timeout=60, idempotent=True, description="set the member count")
    async def resize(self, replicas: int) -> None: ...

Parameters are typed by the method's annotations and checked before every
invocation; effectors are invoked only through the executor, which applies
the timeout and turns every failure into an outcome value.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import attrs

__all__ = ["EffectorSpec", "Param", "check_args", "effector", "effector_spec"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_SPEC_ATTR = "__autonomic_effector__"
_SUPPORTED = (int, float, str, bool, list, dict)


@attrs.frozen(kw_only=True)
class Param:
    """One effector parameter: its name, accepted types and default."""

    name: str
    kinds: tuple[type[Any], ...]
    optional: bool
    required: bool
    default: Any = None

    @property
    def type_name(self) -> str:
        """The type as users wrote it, for messages."""
        names = [k.__name__ for k in self.kinds]
        if self.optional:
            names.append("None")
        return " | ".join(names)


@attrs.frozen(kw_only=True)
class EffectorSpec:
    """What an effector declares: name, parameters, timeout, idempotency, cooldown."""

    name: str
    params: tuple[Param, ...]
    timeout: float
    idempotent: bool
    cooldown: float = 0.0
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        """The declaration as JSON (for the API and docs)."""
        return {
            "name": self.name,
            "params": [
                {"name": p.name, "type": p.type_name, "required": p.required, "default": p.default} for p in self.params
            ],
            "timeout": self.timeout,
            "idempotent": self.idempotent,
            "cooldown": self.cooldown,
            "description": self.description,
        }


def effector(
    *,
    timeout: float,
    idempotent: bool,
    cooldown: float = 0.0,
    description: str = "",
) -> Callable[[F], F]:
    """Declare an async method as an effector.

    ``timeout`` (seconds) bounds every call; ``idempotent`` says whether calling it
    twice with the same arguments is safe (restart recovery re-runs only those);
    ``cooldown`` (seconds) holds back further calls on the same entity after one.
    """
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"effector timeout must be a positive number of seconds, got {timeout!r}")

    def decorate(fn: F) -> F:
        if not inspect.iscoroutinefunction(cast(Any, fn)):  # keep F: the guard would narrow it
            raise TypeError(f"effector {fn.__qualname__} must be an async method")
        setattr(
            fn,
            _SPEC_ATTR,
            _build_spec(fn, timeout=timeout, idempotent=idempotent, cooldown=cooldown, description=description),
        )
        return fn

    return decorate


def effector_spec(obj: object) -> EffectorSpec | None:
    """The spec of a function declared with :func:`effector`, or None."""
    spec = getattr(obj, _SPEC_ATTR, None)
    return spec if isinstance(spec, EffectorSpec) else None


def _build_spec(fn: Callable[..., Any], **kw: Any) -> EffectorSpec:
    hints = typing.get_type_hints(fn)
    params: list[Param] = []
    for i, (name, p) in enumerate(inspect.signature(fn).parameters.items()):
        if i == 0:
            continue  # self
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"effector {fn.__qualname__}: *args/**kwargs are not allowed, declare each parameter")
        if name not in hints:
            raise TypeError(f"effector {fn.__qualname__}: parameter {name!r} needs a type annotation")
        kinds, optional = _kinds(hints[name], f"{fn.__qualname__}({name})")
        required = p.default is inspect.Parameter.empty
        params.append(
            Param(name=name, kinds=kinds, optional=optional, required=required, default=None if required else p.default)
        )
    desc = kw.pop("description") or (inspect.getdoc(fn) or "").split("\n", 1)[0]
    return EffectorSpec(name=fn.__name__, params=tuple(params), description=desc, **kw)


def _kinds(hint: Any, where: str) -> tuple[tuple[type[Any], ...], bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        optional = type(None) in args
        kinds: list[type[Any]] = []
        for a in args:
            if a is type(None):
                continue
            kinds.extend(_kinds(a, where)[0])
        return tuple(kinds), optional
    base = origin or hint
    if base is typing.Any:
        return (object,), True
    if base not in _SUPPORTED:
        raise TypeError(
            f"effector {where}: unsupported parameter type {hint!r} (use int, float, str, bool, list, dict)"
        )
    return (base,), False


def _fits(kind: type[Any], value: Any) -> tuple[bool, Any]:
    if kind is object:
        return True, value
    if kind is bool:
        return isinstance(value, bool), value
    if isinstance(value, bool):
        return False, value
    if kind is int:
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return True, int(value)
        return False, value
    if kind is float:
        if isinstance(value, (int, float)) and math.isfinite(value):
            return True, float(value)
        return False, value
    return isinstance(value, kind), value


def check_args(spec: EffectorSpec, args: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``args`` against ``spec``; return them coerced, or raise ``ValueError`` saying what is wrong."""
    known = {p.name for p in spec.params}
    unknown = sorted(set(args) - known)
    if unknown:
        raise ValueError(
            f"unknown argument(s) {', '.join(unknown)} for effector '{spec.name}'; "
            f"parameters: {', '.join(p.name for p in spec.params) or '(none)'}"
        )
    out: dict[str, Any] = {}
    for p in spec.params:
        if p.name not in args:
            if p.required:
                raise ValueError(f"missing argument '{p.name}' ({p.type_name}) for effector '{spec.name}'")
            continue
        value = args[p.name]
        if value is None:
            if not p.optional:
                raise ValueError(f"argument '{p.name}' of effector '{spec.name}' must be {p.type_name}, got null")
            out[p.name] = None
            continue
        for kind in p.kinds:
            ok, coerced = _fits(kind, value)
            if ok:
                out[p.name] = coerced
                break
        else:
            raise ValueError(
                f"argument '{p.name}' of effector '{spec.name}' must be {p.type_name}, "
                f"got {type(value).__name__} {value!r:.60}"
            )
    return out
