"""autonomic.brownout and the example reactive policy: Rego tests on both engines, and their decisions."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from autonomic.policy import UNDEFINED
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.opa_server import OPAServerError, ensure_opa_binary

ROOT = Path(__file__).resolve().parents[2]
BROWNOUT = ROOT / "policies" / "brownout.rego"
BROWNOUT_TESTS = ROOT / "policies" / "brownout_test.rego"
REACTIVE = ROOT / "examples" / "simulate" / "policies" / "reactive.rego"


@functools.cache
def _tests_engine() -> EmbeddedEngine:
    return EmbeddedEngine.from_paths([BROWNOUT, BROWNOUT_TESTS])


def _rego_tests() -> list[str]:
    return re.findall(r"^(test_\w+) if", BROWNOUT_TESTS.read_text(), re.MULTILINE)


@pytest.mark.parametrize("name", _rego_tests())
def test_brownout_rego_test_passes_on_regorus(name: str) -> None:
    assert _tests_engine().evaluate_sync(f"data.autonomic.brownout_test.{name}", {}) is True


@pytest.fixture(scope="module")
def opa() -> Path:
    try:
        return ensure_opa_binary()
    except OPAServerError as exc:
        pytest.fail(f"no OPA binary: {exc}")


def test_opa_checks_formats_and_tests_the_policies(opa: Path) -> None:
    files = [str(BROWNOUT), str(BROWNOUT_TESTS), str(REACTIVE)]
    check = subprocess.run(
        [str(opa), "check", "--strict", *files], capture_output=True, text=True, timeout=120, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([str(opa), "fmt", "--list", *files], capture_output=True, text=True, timeout=120, check=False)
    assert fmt.returncode == 0 and fmt.stdout == "", fmt.stdout + fmt.stderr
    test = subprocess.run(
        [str(opa), "test", str(BROWNOUT), str(BROWNOUT_TESTS)], capture_output=True, text=True, timeout=120, check=False
    )
    assert test.returncode == 0, test.stdout + test.stderr
    assert f"PASS: {len(_rego_tests())}/{len(_rego_tests())}" in test.stdout


@functools.cache
def _reactive() -> EmbeddedEngine:
    return EmbeddedEngine.from_paths([REACTIVE])


def reactive(sensors: dict[str, Any], **config: Any) -> list[tuple[str, dict[str, Any]]]:
    doc = {
        "now": 100,
        "entity": {
            "id": "web",
            "config": {"max_servers": 3, "min_servers": 1, "utility": {"rt_goal_s": 0.75}, **config},
            "sensors": sensors,
        },
    }
    d = _reactive().evaluate_sync("data.example.reactive.decision", doc)
    assert d is not UNDEFINED
    return [(a["effector"], a["args"]) for a in d["actions"]]


def s(rt: float | None, servers: int, active: int, dimmer: float, utilization: float) -> dict[str, Any]:
    return {
        "response_time": rt,
        "servers": servers,
        "active_servers": active,
        "booting_servers": servers - active,
        "dimmer": dimmer,
        "utilization": utilization,
    }


def test_reactive_follows_swims_rules() -> None:
    # slow: add a server; if one boots or the pool is full, dim one step
    assert reactive(s(1.0, 1, 1, 1.0, 0.99)) == [("add_server", {})]
    assert reactive(s(1.0, 2, 1, 1.0, 0.99)) == [("set_dimmer", {"value": 0.9})]
    assert reactive(s(1.0, 3, 3, 0.3, 0.99)) == [("set_dimmer", {"value": 0.2})]
    assert reactive(s(1.0, 3, 3, 0.0, 0.99)) == []
    # fast with more than a server of spare capacity: raise the dimmer, then remove a server
    assert reactive(s(0.1, 3, 3, 0.7, 0.3)) == [("set_dimmer", {"value": 0.8})]
    assert reactive(s(0.1, 3, 3, 1.0, 0.3)) == [("remove_server", {})]
    assert reactive(s(0.1, 3, 2, 1.0, 0.3)) == []  # one is booting
    # as in SWIM, one server is never a server's worth of spare capacity
    assert reactive(s(0.1, 1, 1, 0.5, 0.1)) == []
    assert reactive(s(None, 1, 1, 1.0, 0.1)) == []


def test_reactive_dimmer_steps_land_on_the_grid() -> None:
    # 0.7 + 0.25 rounds to the quarter grid: 1
    assert reactive(s(0.1, 3, 3, 0.7, 0.3), extra={"reactive": {"step": 0.25}}) == [("set_dimmer", {"value": 1})]
    assert reactive(s(0.1, 3, 3, 0.75, 0.3), extra={"reactive": {"step": 0.25}}) == [("set_dimmer", {"value": 1})]
    assert reactive(s(1.0, 3, 3, 0.1, 0.99)) == [("set_dimmer", {"value": 0})]


def _random_inputs(n: int) -> list[dict[str, Any]]:
    import random

    rng = random.Random(1)
    docs = []
    for _ in range(n):
        servers = rng.randint(1, 3)
        active = rng.randint(0, servers)
        config = {
            "max_servers": 3,
            "min_servers": 1,
            "boot_delay_s": rng.choice([0, 60, 120]),
            "service_time": {"mean": 0.03},
            "basic_service_time": {"mean": 0.001},
            "utility": {"rt_goal_s": 0.75, "cost_per_server_s": rng.choice([0, 1, 5])},
            "brownout": rng.choice([{}, {"dimmer_levels": 5}, {"max_utilization": 0.6, "rt_headroom": 0.2}]),
        }
        sensors = {
            "arrival_rate": round(rng.uniform(0, 150), 3),
            "servers": servers,
            "active_servers": active,
            "booting_servers": servers - active,
            "dimmer": rng.choice([0, 0.1, 0.3, 0.5, 0.7, 1.0]),
            "response_time": round(rng.uniform(0.01, 3), 4),
        }
        knowledge = {
            "remembered": {
                "autonomic.brownout": {
                    "rate": round(rng.uniform(0, 150), 3),
                    "time": 1000 - rng.choice([30, 60, 61.5]),
                    "recent": [[880, round(rng.uniform(0, 150), 2)]],
                }
            },
            "history": {"scale_events": [{"change": rng.choice([-1, 1]), "time": 1000 - rng.choice([50, 400])}]},
        }
        docs.append(
            {"now": 1000, "entity": {"id": "web", "config": config, "sensors": sensors}, "knowledge": knowledge}
        )
    return docs


def test_opa_and_regorus_decide_the_same(opa: Path, tmp_path: Path) -> None:
    import json

    docs = _random_inputs(200)
    data = tmp_path / "inputs.json"
    data.write_text(json.dumps({"inputs": docs}))
    query = "[d | some x in data.inputs; d := data.autonomic.brownout.decision with input as x]"
    out = subprocess.run(
        [str(opa), "eval", "-d", str(BROWNOUT), "-d", str(data), "--format", "json", query],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    from_opa = json.loads(out.stdout)["result"][0]["expressions"][0]["value"]
    engine = EmbeddedEngine.from_paths([BROWNOUT])
    from_regorus = [engine.evaluate_sync("data.autonomic.brownout.decision", d) for d in docs]
    differ = [i for i, (a, b) in enumerate(zip(from_opa, from_regorus, strict=True)) if a != b]
    assert not differ, f"{len(differ)} decisions differ, first: {docs[differ[0]]}"
    assert sum(1 for d in from_regorus if d["actions"]) > 50  # the inputs exercise the decisions
