"""The policy library on both engines: OPA is the reference, the embedded engine must agree with it.

1. ``opa check`` and ``opa test`` pass on the library (the real binary).
2. Every ``test_*`` rule of the library gives the same value on both engines
   (one test each: the library's tests take a minute on the embedded engine).
3. The library's decisions give the same value on both engines for the
   representative inputs in ``decision_inputs/*.json`` (one file per package:
   ``{"package": ..., "inputs": [{"name": ..., "input": {...}}]}``).

The library is discovered when the tests run, so new policies are covered
as they land; a library decision package without an inputs file fails.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from autonomic.errors import PolicyError
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.engine import UNDEFINED, PolicySet, library_path
from autonomic.policy.opa import OPAEngine
from autonomic.policy.opa_server import OPAServer
from autonomic.policy.testing import discover_tests

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

INPUTS_DIR = Path(__file__).parent / "decision_inputs"
INPUT_FILES = sorted(INPUTS_DIR.glob("*.json"))
#: the library's decision packages and the inputs file each must have once it is in policies/
DECISION_PACKAGES = {
    "autonomic.scaling": "scaling.json",
    "autonomic.scaling.bounds": "scaling_bounds.json",
    "autonomic.failover": "failover.json",
    "autonomic.dr": "dr.json",
}


def _library() -> Path:
    return library_path().resolve()


#: every test_* rule of the library, found when the tests are collected
TEST_RULES = discover_tests(PolicySet.from_paths([_library()], include_tests=True))

Engines = tuple[EmbeddedEngine, OPAEngine]


@pytest.fixture(scope="module")
async def library(opa_server: OPAServer) -> AsyncIterator[Engines]:
    """The whole library with its tests, on both engines (loaded once: the library is large)."""
    policies = PolicySet.from_paths([_library()], include_tests=True)
    embedded = EmbeddedEngine(policies)
    async with OPAEngine(policies, opa_server.url, timeout=30.0) as opa:
        yield embedded, opa


def _load_inputs(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), path
    assert isinstance(doc.get("package"), str), f"{path.name}: no package"
    assert isinstance(doc.get("inputs"), list), f"{path.name}: no inputs"
    assert doc["inputs"], f"{path.name}: no inputs"
    for item in doc["inputs"]:
        assert isinstance(item.get("name"), str), f"{path.name}: an input without a name"
        assert isinstance(item.get("input"), dict), f"{path.name}: {item.get('name')}: input is not an object"
    return doc


def _embedded_outcome(engine: EmbeddedEngine, path: str, input_json: str) -> Any:
    try:
        return engine.evaluate_sync(path, input_json=input_json)
    except PolicyError as exc:
        return f"PolicyError: {exc.location}"


async def _opa_outcome(engine: OPAEngine, path: str, input_json: str) -> Any:
    try:
        return await engine.evaluate(path, input_json)
    except PolicyError as exc:
        return f"PolicyError: {exc.location}"


def _show(value: Any) -> str:
    if value is UNDEFINED:
        return "UNDEFINED"
    return json.dumps(value, sort_keys=True)[:2000]


async def _run_opa(binary: Path, *args: str) -> tuple[int, str]:
    with anyio.fail_after(60):
        proc = await anyio.run_process([str(binary), *args], check=False)
    return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "replace")


async def test_opa_check_and_opa_test_pass_on_the_library(opa_binary: Path) -> None:
    lib = _library()
    assert any(lib.glob("*.rego")), f"no policies in {lib}"
    code, out = await _run_opa(opa_binary, "check", str(lib))
    assert code == 0, f"opa check {lib} failed:\n{out}"
    code, out = await _run_opa(opa_binary, "test", str(lib))
    assert code == 0, f"opa test {lib} failed:\n{out}"
    assert "PASS" in out, out


def test_the_library_has_test_rules() -> None:
    assert TEST_RULES, f"no test_* rules in {_library()}"


@pytest.mark.parametrize(("package", "rule", "where"), TEST_RULES, ids=[f"{p}.{r}" for p, r, _ in TEST_RULES])
async def test_test_rule_agrees(library: Engines, package: str, rule: str, where: str) -> None:
    embedded, opa = library
    path = f"data.{package}.{rule}"
    want = _embedded_outcome(embedded, path, "{}")
    got = await _opa_outcome(opa, path, "{}")
    assert got == want, f"{where} {path}: OPA {_show(got)}, embedded {_show(want)}"
    # OPA is the reference and `opa test` passes, so every test rule is true on OPA.
    assert got is True, f"{where} {path} is {_show(got)} on OPA"


def test_library_decision_packages_have_inputs() -> None:
    packages = set(PolicySet.from_paths([_library()]).packages)
    missing = [
        f"{pkg}: add tests/policy/decision_inputs/{name}"
        for pkg, name in DECISION_PACKAGES.items()
        if pkg in packages and not (INPUTS_DIR / name).is_file()
    ]
    assert not missing, "library decision packages without representative inputs:\n" + "\n".join(missing)
    for path in INPUT_FILES:
        doc = _load_inputs(path)
        assert doc["package"] in packages, f"{path.name}: package {doc['package']} is not in {_library()}"


@pytest.mark.parametrize("inputs_file", INPUT_FILES, ids=[p.stem for p in INPUT_FILES])
async def test_decisions_agree_on_representative_inputs(library: Engines, inputs_file: Path) -> None:
    embedded, opa = library
    doc = _load_inputs(inputs_file)
    path = f"data.{doc['package']}.decision"
    mismatches: list[str] = []
    for item in doc["inputs"]:
        input_json = json.dumps(item["input"], sort_keys=True)
        want = _embedded_outcome(embedded, path, input_json)
        got = await _opa_outcome(opa, path, input_json)
        # Realistic inputs give a decision, not an error or nothing: otherwise the comparison is hollow.
        assert isinstance(got, dict), f"{inputs_file.name}: {item['name']}: {path} is {_show(got)} on OPA"
        if got != want:
            mismatches.append(f"{item['name']}: OPA {_show(got)}\n  embedded {_show(want)}")
    assert not mismatches, f"{path} differs on {len(mismatches)} inputs:\n" + "\n".join(mismatches)


async def test_every_decision_agrees_on_every_input(library: Engines) -> None:
    """Each package's decision on the other packages' inputs too: odd documents, same answers."""
    embedded, opa = library
    paths = [f"data.{pkg}.decision" for pkg in DECISION_PACKAGES if pkg in opa.packages]
    assert paths, f"no library decision package in {_library()}"
    mismatches: list[str] = []
    checked = 0
    for inputs_file in INPUT_FILES:
        for item in _load_inputs(inputs_file)["inputs"]:
            input_json = json.dumps(item["input"], sort_keys=True)
            for path in paths:
                want = _embedded_outcome(embedded, path, input_json)
                got = await _opa_outcome(opa, path, input_json)
                checked += 1
                if got != want:
                    mismatches.append(f"{inputs_file.stem}/{item['name']} {path}: OPA {_show(got)}\n"
                                      f"  embedded {_show(want)}")
    assert checked > 0
    assert not mismatches, f"{len(mismatches)} of {checked} evaluations differ:\n" + "\n".join(mismatches)
