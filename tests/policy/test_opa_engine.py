"""The OPA engine against a real ``opa run --server``: the same answers and errors as the embedded engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from autonomic.errors import PolicyError
from autonomic.policy import opa_server as opa_server_module
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.engine import UNDEFINED, PolicySet
from autonomic.policy.opa import OPAEngine
from autonomic.policy.opa_server import OPAServer, OPAServerError, ensure_opa_binary, opa_cache_dir
from tests.support.binaries import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

POLICY = """\
package tests.opa_engine

import rego.v1

default allow := false

allow if input.user.role == "admin"

hot contains c.id if {
	some c in input.children
	c.sensors.load > 0.8
}

decision := {
	"symptoms": [{"name": "overload", "severity": "warning", "detail": {"members": sort(hot)}}],
	"actions": [{
		"target": "self",
		"effector": "resize",
		"args": {"replicas": count(input.children) + count(hot)},
		"reason": sprintf("%d of %d members over 80%%", [count(hot), count(input.children)]),
	}],
} if count(hot) > 0

nothing := null

maybe := input.value if input.flag

ratio := input.total / input.members

number := to_number(input.text)

conflict := "a" if input.a

conflict := "b" if input.b
"""

INPUTS: list[dict[str, Any]] = [
    {},
    {"user": {"role": "admin"}, "flag": True, "value": None, "total": 10, "members": 4, "text": "2.5"},
    {"user": {"role": "viewer"}, "flag": False, "value": 3, "total": 9, "members": 3, "text": "7"},
    {
        "children": [
            {"id": "web/a", "sensors": {"load": 0.95}},
            {"id": "web/b", "sensors": {"load": 0.2}},
            {"id": "web/c", "sensors": {"load": 0.81}},
        ],
        "flag": True,
        "value": {"nested": [1, 2.5, "x", None]},
    },
    {"children": [{"id": "web/a", "sensors": {"load": 0.5}}], "a": True},
]
PATHS = [
    "data.tests.opa_engine.allow",
    "data.tests.opa_engine.hot",
    "data.tests.opa_engine.decision",
    "data.tests.opa_engine.nothing",
    "data.tests.opa_engine.maybe",
    "data.tests.opa_engine.ratio",
    "data.tests.opa_engine.number",
    "data.tests.opa_engine.conflict",
    "data.tests.opa_engine.no_such_rule",
    "data.tests.no_such_package.decision",
]


def _outcome_embedded(engine: EmbeddedEngine, path: str, doc: Any) -> Any:
    try:
        return engine.evaluate_sync(path, doc)
    except PolicyError:
        return "PolicyError"


async def _outcome_opa(engine: OPAEngine, path: str, doc: Any) -> Any:
    try:
        return await engine.evaluate(path, json.dumps(doc))
    except PolicyError:
        return "PolicyError"


@pytest.fixture
async def demo(opa_server: OPAServer) -> Any:
    """The demo policy on the shared server (and the embedded engine, for reference)."""
    policies = PolicySet.from_texts({"tests/opa_engine.rego": POLICY})
    async with OPAEngine(policies, opa_server.url) as engine:
        yield engine, EmbeddedEngine(policies)


async def test_decisions_equal_the_embedded_engine(demo: Any) -> None:
    opa, embedded = demo
    assert opa.name == "opa"
    assert opa.version == embedded.version
    assert list(opa.packages) == ["tests.opa_engine"]
    checked = 0
    for doc in INPUTS:
        for path in PATHS:
            want = _outcome_embedded(embedded, path, doc)
            got = await _outcome_opa(opa, path, doc)
            assert got == want, f"{path} on {doc}: OPA {got!r}, embedded {want!r}"
            checked += 1
    assert checked == len(INPUTS) * len(PATHS)
    # The fixture inputs reach every kind of answer, so the comparison means something.
    rich = INPUTS[3]
    decision = await opa.evaluate("data.tests.opa_engine.decision", json.dumps(rich))
    assert decision["actions"][0]["args"] == {"replicas": 5}
    assert decision["symptoms"][0]["detail"]["members"] == ["web/a", "web/c"]
    assert decision["actions"][0]["reason"] == "2 of 3 members over 80%"


async def test_undefined_is_not_null(demo: Any) -> None:
    opa, _ = demo
    assert await opa.evaluate("data.tests.opa_engine.nothing", "{}") is None
    assert await opa.evaluate("data.tests.opa_engine.maybe", '{"flag": true, "value": null}') is None
    assert await opa.evaluate("data.tests.opa_engine.maybe", '{"flag": false, "value": 1}') is UNDEFINED
    assert await opa.evaluate("data.tests.opa_engine.maybe", "{}") is UNDEFINED
    assert await opa.evaluate("data.tests.opa_engine.no_such_rule", "{}") is UNDEFINED
    assert await opa.evaluate("data.tests.opa_engine.allow", "{}") is False
    assert await opa.evaluate("data.tests.opa_engine.hot", "{}") == []


async def test_runtime_errors_raise_policy_error_with_location(demo: Any) -> None:
    opa, embedded = demo
    cases = {
        "data.tests.opa_engine.ratio": ({"total": 1, "members": 0}, "divide by zero"),
        "data.tests.opa_engine.number": ({"text": "abc"}, "to_number"),
        "data.tests.opa_engine.conflict": ({"a": True, "b": True}, "conflicting"),
    }
    for path, (doc, words) in cases.items():
        with pytest.raises(PolicyError) as caught:
            await opa.evaluate(path, json.dumps(doc))
        err = caught.value
        assert words in err.message, err
        assert err.path == path
        assert err.location is not None
        assert err.location.startswith("tests/opa_engine.rego:"), err.location
        with pytest.raises(PolicyError) as reference:
            embedded.evaluate_sync(path, doc)
        # Both engines point at the same line of the same file.
        assert reference.value.location is not None
        assert err.location.split(":")[:2] == reference.value.location.split(":")[:2]
    with pytest.raises(PolicyError, match="malformed input"):
        await opa.evaluate("data.tests.opa_engine.allow", "{not json")
    with pytest.raises(PolicyError, match="not a data path"):
        await opa.evaluate("tests.opa_engine.allow", "{}")


async def test_syntax_error_names_file_and_line(opa_server: OPAServer, tmp_path: Path) -> None:
    good = tmp_path / "good.rego"
    good.write_text("package tests.good\n\nimport rego.v1\n\nok := true\n")
    broken = tmp_path / "broken.rego"
    broken.write_text(
        "package tests.broken\n\nimport rego.v1\n\nallow if {\n\tinput.x == \n}\n\nother := 1\n"
    )
    policies = PolicySet.from_paths([tmp_path])
    with pytest.raises(PolicyError) as embedded_err:
        EmbeddedEngine(policies)
    engine = OPAEngine(policies, opa_server.url)
    try:
        with pytest.raises(PolicyError) as caught:
            await engine.open()
    finally:
        await engine.aclose()
    err = caught.value
    assert err.location is not None
    file, line, _col = err.location.rsplit(":", 2)
    assert file == str(broken)  # the module's path, not OPA's policy id
    assert embedded_err.value.location is not None
    assert line == embedded_err.value.location.rsplit(":", 2)[1] == "7"
    assert str(broken) in str(err)


async def test_compile_error_names_file_and_line(opa_server: OPAServer) -> None:
    policies = PolicySet.from_texts(
        {"lib/typo.rego": "package tests.typo\n\nimport rego.v1\n\nx := 1\n\ny := cont([1, 2])\n"}
    )
    with pytest.raises(PolicyError) as caught:
        async with OPAEngine(policies, opa_server.url):
            pass
    assert caught.value.location is not None
    assert caught.value.location.startswith("lib/typo.rego:7:")
    assert "undefined function cont" in caught.value.message


async def test_modules_depending_on_each_other_load_in_any_order(opa_server: OPAServer) -> None:
    # "a_uses.rego" is pushed first and calls a function of "z_lib.rego": OPA rejects it until z_lib is in.
    policies = PolicySet.from_texts(
        {
            "a_uses.rego": "package tests.uses\n\nimport rego.v1\n\nv := data.tests.lib.twice(input.n)\n",
            "z_lib.rego": "package tests.lib\n\nimport rego.v1\n\ntwice(n) := 2 * n\n",
        }
    )
    async with OPAEngine(policies, opa_server.url) as engine:
        assert await engine.evaluate("data.tests.uses.v", '{"n": 21}') == 42


async def test_server_holds_exactly_the_engine_modules(opa_server: OPAServer) -> None:
    first = PolicySet.from_texts({"left.rego": "package tests.left\n\nimport rego.v1\n\nx := 1\n"})
    second = PolicySet.from_texts({"right.rego": "package tests.right\n\nimport rego.v1\n\ny := 2\n"})
    async with OPAEngine(first, opa_server.url) as engine:
        assert await engine.evaluate("data.tests.left.x", "{}") == 1
    async with OPAEngine(second, opa_server.url) as engine:
        assert await engine.evaluate("data.tests.right.y", "{}") == 2
        # The first engine's module is gone: the server evaluates what this engine loaded, nothing more.
        assert await engine.evaluate("data.tests.left.x", "{}") is UNDEFINED


async def test_stopped_server_is_a_policy_error_not_a_hang(opa_binary: Path) -> None:
    policies = PolicySet.from_texts({"p.rego": "package tests.p\n\nimport rego.v1\n\nv := input.v\n"})
    async with OPAServer(opa_binary) as server:
        engine = OPAEngine(policies, server.url, timeout=2.0)
        try:
            await engine.open()
            assert await engine.evaluate("data.tests.p.v", '{"v": 1}') == 1
            await server.stop()
            assert not server.running
            with anyio.fail_after(10):
                with pytest.raises(PolicyError, match="unreachable") as caught:
                    await engine.evaluate("data.tests.p.v", '{"v": 1}')
            assert server.url in str(caught.value)
            assert caught.value.path == "data.tests.p.v"
            # The server comes back (same port) without the modules: the engine pushes them again.
            await server.start()
            with anyio.fail_after(10):
                assert await engine.evaluate("data.tests.p.v", '{"v": 2}') == 2
        finally:
            await engine.aclose()


async def test_nothing_listening_is_a_policy_error() -> None:
    policies = PolicySet.from_texts({"p.rego": "package tests.p\n\nimport rego.v1\n\nv := 1\n"})
    engine = OPAEngine(policies, f"http://127.0.0.1:{free_port()}", timeout=2.0)
    try:
        with anyio.fail_after(10):
            with pytest.raises(PolicyError, match="unreachable"):
                await engine.open()
            with pytest.raises(PolicyError, match="unreachable"):
                await engine.evaluate("data.tests.p.v", "{}")
    finally:
        await engine.aclose()


async def test_slow_evaluation_times_out(opa_server: OPAServer) -> None:
    policies = PolicySet.from_texts(
        {"slow.rego": "package tests.slow\n\nimport rego.v1\n\nn := count([x | some x in numbers.range(1, input.n)])\n"}
    )
    async with OPAEngine(policies, opa_server.url, timeout=0.3) as engine:
        assert await engine.evaluate("data.tests.slow.n", '{"n": 10}') == 10
        with anyio.fail_after(5):
            with pytest.raises(PolicyError, match=r"no answer within 0\.3 s"):
                await engine.evaluate("data.tests.slow.n", '{"n": 50000000}')
        # The server dropped the abandoned evaluation and still answers.
        assert await engine.evaluate("data.tests.slow.n", '{"n": 3}') == 3


async def test_bad_urls_are_rejected() -> None:
    policies = PolicySet.from_texts({})
    with pytest.raises(PolicyError, match="not an OPA server URL"):
        OPAEngine(policies, "127.0.0.1:8181")
    with pytest.raises(PolicyError, match="cannot have a path"):
        OPAEngine(policies, "http://127.0.0.1:8181/opa")


async def test_server_that_cannot_start_says_why(opa_binary: Path) -> None:
    server = OPAServer(opa_binary, extra_args=("--no-such-flag",), startup_timeout=10)
    with anyio.fail_after(15):
        with pytest.raises(OPAServerError, match="no-such-flag"):
            await server.start()
    assert not server.running


async def test_second_server_on_a_taken_port_fails_loudly(opa_server: OPAServer, opa_binary: Path) -> None:
    clash = OPAServer(opa_binary, port=opa_server.port, startup_timeout=10)
    with anyio.fail_after(15):
        with pytest.raises(OPAServerError, match="(?i)address already in use"):
            await clash.start()
    assert opa_server.running


def _fake_go(folder: Path, script: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    go = folder / "go"
    go.write_text("#!/bin/sh\n" + script)
    go.chmod(0o755)
    return go


def test_ensure_opa_binary_builds_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls"
    # Stands in for `go install`: writes an executable "opa" into $GOBIN and logs its arguments.
    _fake_go(tmp_path / "bin", f'echo "$@" >> {calls}\nprintf "#!/bin/sh\\necho fake\\n" > "$GOBIN/opa"\n'
             'chmod +x "$GOBIN/opa"\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = ensure_opa_binary("v9.9.9")
    assert first == tmp_path / "cache" / "autonomic" / "opa-v9.9.9" / "opa"
    assert first == opa_cache_dir("v9.9.9") / "opa"
    assert ensure_opa_binary("v9.9.9") == first  # cached: go is not run again
    assert calls.read_text().splitlines() == ["install github.com/open-policy-agent/opa@v9.9.9"]
    assert [p.name for p in first.parent.iterdir() if p.name.startswith(".build-")] == []


def test_ensure_opa_binary_reports_a_failed_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_go(tmp_path / "bin", 'echo "go: module lookup disabled" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(OPAServerError, match=r"(?s)exit 1.*module lookup disabled"):
        ensure_opa_binary("v9.9.9")
    assert not (opa_cache_dir("v9.9.9") / "opa").exists()


def test_ensure_opa_binary_without_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(opa_server_module, "_find_go", lambda: None)
    with pytest.raises(OPAServerError, match="no Go toolchain"):
        ensure_opa_binary("v9.9.9")
