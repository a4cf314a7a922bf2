"""Running Rego ``test_*`` rules on the embedded engine (``autonomic policy test``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from pathlib import Path

import attrs

from autonomic.errors import PolicyError
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.engine import UNDEFINED, PolicySet

__all__ = ["TestResult", "discover_tests", "run_policy_tests"]

_TEST_RULE = re.compile(r"^(test_[A-Za-z0-9_]*)\b", re.MULTILINE)


@attrs.frozen(kw_only=True)
class TestResult:
    """One test rule's outcome."""

    __test__ = False  # not a pytest class

    package: str
    name: str
    location: str
    passed: bool
    message: str = ""
    duration_s: float = 0.0

    @property
    def path(self) -> str:
        """The rule's data path."""
        return f"data.{self.package}.{self.name}"


def discover_tests(policies: PolicySet) -> list[tuple[str, str, str]]:
    """``(package, rule, file:line)`` of every ``test_*`` rule, in file order, each once."""
    out: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for src in policies.sources:
        pkg = src.package
        if pkg is None:
            continue
        for m in _TEST_RULE.finditer(src.text):
            key = (pkg, m.group(1))
            if key in seen:
                continue  # a rule defined by several bodies is one test
            seen.add(key)
            line = src.text.count("\n", 0, m.start()) + 1
            out.append((pkg, m.group(1), f"{src.path}:{line}"))
    return out


def run_policy_tests(paths: Iterable[str | Path], *, name_filter: str | None = None) -> list[TestResult]:
    """Load ``paths`` (with tests) and evaluate every test rule; a test passes when it is ``true``."""
    policies = PolicySet.from_paths(paths, include_tests=True)
    engine = EmbeddedEngine(policies)
    pattern = re.compile(name_filter) if name_filter else None
    results = []
    for pkg, rule, loc in discover_tests(policies):
        if pattern is not None and not pattern.search(f"{pkg}.{rule}"):
            continue
        t0 = time.perf_counter()
        try:
            value = engine.evaluate_sync(f"data.{pkg}.{rule}", {})
        except PolicyError as exc:
            results.append(
                TestResult(
                    package=pkg,
                    name=rule,
                    location=loc,
                    passed=False,
                    message=f"error: {exc}",
                    duration_s=time.perf_counter() - t0,
                )
            )
            continue
        passed = value is True
        if passed:
            msg = ""
        elif value is UNDEFINED:
            msg = "fail: the rule is undefined (some expression in its body was false or undefined)"
        else:
            msg = f"fail: the rule is {value!r}, not true"
        results.append(
            TestResult(
                package=pkg, name=rule, location=loc, passed=passed, message=msg, duration_s=time.perf_counter() - t0
            )
        )
    return results
