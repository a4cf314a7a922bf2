"""The policy engine interface, and the policy sources it loads.

Decisions are addressed only by data path (``data.autonomic.scaling.decision``)
and inputs cross as JSON text, so the embedded engine and a real OPA server
implement the same interface.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import attrs

from autonomic.errors import PolicyError

__all__ = [
    "UNDEFINED",
    "PolicyEngine",
    "PolicySet",
    "PolicySource",
    "Undefined",
    "check_data_path",
    "library_path",
]

_DATA_PATH = re.compile(r"^data(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)


class Undefined:
    """The type of :data:`UNDEFINED`: no rule body held (distinct from ``null``)."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = Undefined()


def library_path() -> Path:
    """The folder of the Rego policy library shipped with autonomic."""
    return Path(__file__).resolve().parent.parent / "policies"


def check_data_path(path: str) -> str:
    """Return ``path`` if it is a data path like ``data.pkg.rule``; raise PolicyError otherwise."""
    if not _DATA_PATH.match(path):
        raise PolicyError(f"not a data path: {path!r} (expected e.g. data.autonomic.scaling.decision)")
    return path


@attrs.frozen
class PolicySource:
    """One Rego module: where it came from and its text."""

    path: str
    text: str

    @property
    def package(self) -> str | None:
        """The module's package name, if it declares one."""
        m = _PACKAGE.search(self.text)
        return m.group(1) if m else None

    @property
    def is_test(self) -> bool:
        """Whether this is a ``*_test.rego`` module."""
        return self.path.endswith("_test.rego")


@attrs.frozen
class PolicySet:
    """The Rego modules an engine loads; ``version`` is a hash of all of them."""

    sources: tuple[PolicySource, ...]

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path], *, include_tests: bool = False) -> PolicySet:
        """Load ``.rego`` files and folders (recursively, sorted); tests only when asked."""
        seen: dict[str, PolicySource] = {}
        for raw in paths:
            p = Path(raw)
            if p.is_dir():
                files = sorted(f for f in p.rglob("*.rego") if f.is_file())
            elif p.is_file():
                files = [p]
            else:
                raise PolicyError(f"no such policy file or folder: {p}")
            for f in files:
                if f.name.endswith("_test.rego") and not include_tests and p.is_dir():
                    continue
                key = str(f.resolve())
                if key in seen:
                    continue
                try:
                    text = f.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise PolicyError(f"cannot read policy: {exc}", location=str(f)) from exc
                seen[key] = PolicySource(path=str(f), text=text)
        return cls(tuple(seen.values()))

    @classmethod
    def from_texts(cls, modules: dict[str, str]) -> PolicySet:
        """Build from in-memory modules (name to Rego text)."""
        return cls(tuple(PolicySource(path=k, text=v) for k, v in modules.items()))

    def merged(self, other: PolicySet) -> PolicySet:
        """Both sets, without repeating a module."""
        names = {s.path for s in self.sources}
        return PolicySet(self.sources + tuple(s for s in other.sources if s.path not in names))

    @property
    def version(self) -> str:
        """A short hash of every module's path and text: the policy version journaled with decisions."""
        h = hashlib.sha256()
        for s in sorted(self.sources, key=lambda s: s.path):
            h.update(s.path.encode())
            h.update(b"\0")
            h.update(s.text.encode())
            h.update(b"\0")
        return h.hexdigest()[:16]

    @property
    def packages(self) -> list[str]:
        """The packages the modules declare, sorted."""
        return sorted({p for s in self.sources if (p := s.package)})


class PolicyEngine(Protocol):
    """Evaluates data paths on a JSON input. Errors are :class:`~autonomic.errors.PolicyError`."""

    @property
    def name(self) -> str:
        """``embedded`` or ``opa``."""

    @property
    def version(self) -> str:
        """The policy version (hash of the loaded sources)."""

    @property
    def packages(self) -> Sequence[str]:
        """The packages loaded."""

    async def open(self) -> None:
        """Load the policies where they are evaluated (raises PolicyError on compile errors)."""

    async def evaluate(self, path: str, input_json: str) -> Any:
        """The value at ``path`` for this input, or :data:`UNDEFINED`."""

    async def aclose(self) -> None:
        """Release the engine's resources."""
