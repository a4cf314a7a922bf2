"""Entity types by name: registered names (entry points) and dotted import paths."""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from autonomic.entity import Entity

__all__ = ["ENTRY_POINT_GROUP", "EntityTypes"]

ENTRY_POINT_GROUP = "autonomic.entity_types"


class EntityTypes:
    """Resolves a blueprint's ``type``: a registered name, ``pkg.mod:Class`` or ``pkg.mod.Class``.

    Registered names come from the ``autonomic.entity_types`` entry points of
    installed packages and from ``extra``; nothing is registered globally.
    """

    def __init__(self, extra: dict[str, type[Entity]] | None = None, *, search_paths: tuple[Path, ...] = ()) -> None:
        self._names: dict[str, str | type[Entity]] = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
        self._names.update(extra or {})
        self._search_paths = tuple(str(p) for p in search_paths)

    def with_search_path(self, path: Path) -> EntityTypes:
        """The same names, also importing modules from ``path`` (a blueprint's folder)."""
        other = EntityTypes.__new__(EntityTypes)
        other._names = dict(self._names)
        other._search_paths = (*self._search_paths, str(path))
        return other

    def _import(self, module_name: str) -> Any:
        added = [p for p in self._search_paths if p not in sys.path]
        sys.path[:0] = added  # modules beside the blueprint are importable, as users expect
        try:
            return importlib.import_module(module_name)
        finally:
            for p in added:
                sys.path.remove(p)

    @property
    def names(self) -> list[str]:
        """The registered names."""
        return sorted(self._names)

    def resolve(self, name: str) -> type[Entity]:
        """The class for ``name``; raises ``LookupError`` saying why not."""
        target = self._names.get(name, name)
        if isinstance(target, type):
            return target
        if ":" in target:
            module_name, _, attr = target.partition(":")
        elif "." in target:
            module_name, _, attr = target.rpartition(".")
        else:
            raise LookupError(
                f"unknown entity type {name!r}: not a registered name ({', '.join(self.names) or 'none'}) "
                "nor a dotted path like package.module:Class"
            )
        try:
            module = self._import(module_name)
        except Exception as exc:  # any import failure is the blueprint's problem to report
            raise LookupError(
                f"entity type {name!r}: cannot import {module_name}: {type(exc).__name__}: {exc}"
            ) from None
        cls: Any = module
        for part in attr.split("."):
            cls = getattr(cls, part, None)
            if cls is None:
                raise LookupError(f"entity type {name!r}: {module_name} has no {attr!r}")
        if not (isinstance(cls, type) and issubclass(cls, Entity)):
            raise LookupError(f"entity type {name!r}: {target} is not an Entity subclass")
        found: type[Entity] = cls
        return found
