"""The embedded engine: JSON boundary, undefined vs null, errors with file and line, threads."""

from __future__ import annotations

import json
import threading

import pytest

from autonomic.errors import PolicyError
from autonomic.policy import UNDEFINED, EmbeddedEngine, PolicySet
from autonomic.policy.engine import library_path

REGO = """package t
import rego.v1

decision := {"n": input.n, "objs": {{"a": 1}, {"b": 2}}} if input.n > 0
nothing := null
boom := 1 / input.n
conflict := 1 if input.c
conflict := 2 if input.c
"""


@pytest.fixture
def engine() -> EmbeddedEngine:
    return EmbeddedEngine(PolicySet.from_texts({"t.rego": REGO}))


def test_values_cross_as_json(engine: EmbeddedEngine) -> None:
    out = engine.evaluate_sync("data.t.decision", {"n": 2})
    assert out["n"] == 2
    assert sorted(json.dumps(o, sort_keys=True) for o in out["objs"]) == ['{"a": 1}', '{"b": 2}']


def test_undefined_is_not_null(engine: EmbeddedEngine) -> None:
    assert engine.evaluate_sync("data.t.decision", {"n": 0}) is UNDEFINED
    assert engine.evaluate_sync("data.t.nothing", {}) is None
    assert engine.evaluate_sync("data.t.no_such_rule", {}) is UNDEFINED


def test_runtime_errors_name_file_and_line(engine: EmbeddedEngine) -> None:
    with pytest.raises(PolicyError) as exc:
        engine.evaluate_sync("data.t.boom", {"n": 0})
    assert exc.value.location is not None and exc.value.location.startswith("t.rego:6:")
    assert "divide by zero" in str(exc.value) and "backtrace" not in str(exc.value).lower()
    with pytest.raises(PolicyError, match=r"t.rego:\d+"):
        engine.evaluate_sync("data.t.conflict", {"c": True})


def test_syntax_errors_name_file_and_line() -> None:
    with pytest.raises(PolicyError) as exc:
        EmbeddedEngine(PolicySet.from_texts({"broken.rego": "package b\nimport rego.v1\nx if {\n  input.a ==\n}\n"}))
    assert exc.value.location is not None and exc.value.location.startswith("broken.rego:")
    assert "Stack backtrace" not in str(exc.value)


def test_not_a_data_path(engine: EmbeddedEngine) -> None:
    with pytest.raises(PolicyError, match="not a data path"):
        engine.evaluate_sync("input.x; true", {})


def test_one_engine_per_thread(engine: EmbeddedEngine) -> None:
    results: list[object] = []

    def work() -> None:
        # regorus panics (a BaseException) if an engine crosses threads; ours compiles one per thread.
        results.append(engine.evaluate_sync("data.t.decision", {"n": 5})["n"])

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [5, 5, 5]


def test_version_is_a_hash_of_sources() -> None:
    a = PolicySet.from_texts({"x.rego": "package x\n"})
    b = PolicySet.from_texts({"x.rego": "package x\n# changed\n"})
    assert a.version != b.version and len(a.version) == 16
    assert a.version == PolicySet.from_texts({"x.rego": "package x\n"}).version


def test_library_folder_loads_without_tests() -> None:
    pset = PolicySet.from_paths([library_path()])
    assert pset.sources and not any(s.is_test for s in pset.sources)
    EmbeddedEngine(pset)  # every library module compiles


@pytest.mark.anyio
async def test_offloaded_evaluation_times_out() -> None:
    slow = """package slow
import rego.v1
x := count([1 | some i in numbers.range(1, 3000000); i > 0])
"""
    engine = EmbeddedEngine(PolicySet.from_texts({"slow.rego": slow}), offload=True, timeout=0.05)
    with pytest.raises(PolicyError, match="timed out"):
        await engine.evaluate("data.slow.x", "{}")
