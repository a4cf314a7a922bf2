"""Validation at the edges (blueprints, entity config, API bodies) with cattrs.

One converter serves every edge, and its errors come back as
``(path, message)`` pairs so callers can name the place (and, for YAML, the line).
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeVar

import cattrs
from cattrs.errors import BaseValidationError

__all__ = ["converter", "structure", "unstructure"]

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=True)


def _strict_int(value: Any, _: type[Any]) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected an integer, got {type(value).__name__} {value!r:.40}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"expected an integer, got {value!r}")
        return int(value)
    return value


def _strict_float(value: Any, _: type[Any]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {type(value).__name__} {value!r:.40}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def _strict_bool(value: Any, _: type[Any]) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {type(value).__name__} {value!r:.40}")
    return value


def _strict_str(value: Any, _: type[Any]) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__} {value!r:.40}")
    return value


# cattrs would turn 3.5 into 3 and "yes" into True; at the edges we say no instead.
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(float, _strict_float)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(str, _strict_str)
# Free-form JSON values (``dict[str, Any]``, ``object``) pass through as they are.
converter.register_structure_hook_func(lambda t: t is object or t is Any, lambda value, _: value)

_AT = re.compile(r"^(?P<msg>.*) @ (?P<path>\$.*)$")


def _format_exception(exc: BaseException, type_: Any) -> str:
    """cattrs' wording, plus ours: the validators say what they expected."""
    base = cattrs.v.format_exception(exc, type_)
    if isinstance(exc, ValueError) and not isinstance(exc, BaseValidationError) and str(exc):
        return f"{base}: {exc}" if base != str(exc) else base
    return base


def structure(data: Any, cls: type[T], *, path: str = "$") -> tuple[T | None, list[tuple[str, str]]]:
    """Structure ``data`` into ``cls``; on failure return ``(None, [(path, message), ...])``."""
    try:
        return converter.structure(data, cls), []
    except BaseValidationError as exc:
        problems = []
        for line in cattrs.transform_error(exc, path=path, format_exception=_format_exception):
            m = _AT.match(line)
            problems.append((m["path"], m["msg"]) if m else (path, line))
        return None, problems
    except (TypeError, ValueError, AttributeError, cattrs.errors.StructureHandlerNotFoundError) as exc:
        return None, [(path, f"{type(exc).__name__}: {exc}")]


def unstructure(obj: Any) -> Any:
    """Plain JSON-able data from an attrs value."""
    return converter.unstructure(obj)
