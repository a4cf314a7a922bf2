"""The API served for real (uvicorn on loopback) and the client commands against it.

The commands run in a worker thread (they are synchronous httpx, as in a
terminal) while the server and the managed plant run on the test's event loop.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import pytest
import structlog

from autonomic.api.client import ApiClient, ApiError
from autonomic.api.context import ApiContext
from autonomic.api.errors import ApiConfigError
from autonomic.api.server import bind_socket, serve_api
from autonomic.cli_client import parse_assignments, register_client_commands
from autonomic.testing import Harness
from tests.api.conftest import ALICE, BOB, Pump
from tests.support.binaries import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """Keep the server's log lines out of the commands' captured output (set up before the plant)."""
    with structlog.testing.capture_logs():
        yield


@pytest.fixture
async def url(ctx: ApiContext) -> AsyncIterator[str]:
    """The API on a free loopback port, stopped after the test."""
    async with anyio.create_task_group() as tg:
        port = await tg.start(serve_api, ctx, "127.0.0.1", 0)
        yield f"http://127.0.0.1:{port}"
        tg.cancel_scope.cancel()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autonomic")
    register_client_commands(p.add_subparsers(dest="command", required=True))
    return p


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run one client command in a worker thread; its exit code, stdout and stderr."""
    args = _parser().parse_args(list(argv))
    with anyio.fail_after(20):
        code: int = await anyio.to_thread.run_sync(args.fn, args)
    out, err = capsys.readouterr()
    return code, out, err


async def test_tree_and_get(url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTONOMIC_URL", url)
    monkeypatch.setenv("AUTONOMIC_TOKEN", BOB)
    code, out, _ = await cli(capsys, "tree")
    assert code == 0
    lines = out.splitlines()
    assert re.match(r"ENTITY\s+TYPE\s+LIFECYCLE\s+UP\s+READY\s+MANAGER$", lines[0])
    assert re.match(r"plant\s+test-station\s+running\s+yes\s+yes\s+enforce$", lines[1])
    assert re.match(r"  p1\s+test-pump\s+running\s+yes\s+yes\s+-$", lines[2])
    assert [line.split()[0] for line in lines[1:]] == ["plant", "p1", "p2", "mode"]

    code, out, _ = await cli(capsys, "get", "plant/p2")
    assert code == 0
    assert out.startswith("plant/p2  (test-pump)\n  lifecycle  running (expected running, since t=0.0)\n")
    assert re.search(r"^  flow\s+4\.0\s+l/s\s+t=0\.0$", out, re.M)
    assert re.search(r"^  pressure\s+-\s+-$", out, re.M)
    assert re.search(r"^  set_flow\s+value: float\s+5 s\s+yes\s+set the flow$", out, re.M)
    assert re.search(r"^  flush\s+seconds: float\?, note: str \| None\?\s+60 s", out, re.M)
    assert "manager    - (not managed)" in out

    code, out, _ = await cli(capsys, "get", "plant/mode")  # the pump called "mode", not a route
    assert code == 0 and out.startswith("plant/mode  (test-pump)")
    code, out, _ = await cli(capsys, "get", "plant", "--json")
    assert code == 0 and '"packages": [\n      "test.plant"\n    ]' in out


async def test_invoke_and_wait(url: str, capsys: pytest.CaptureFixture[str], harness: Harness) -> None:
    code, out, err = await cli(
        capsys, "invoke", "plant/p2", "set_flow", "value=2.5", "--wait", "--url", url, "--token", ALICE
    )
    assert code == 0, err
    assert re.fullmatch(r"A\d{9} ok in 0\.00 s: plant/p2\.set_flow\(value=2\.5\)\n", out)
    pump = harness.runtime.root.find("plant/p2")
    assert isinstance(pump, Pump) and pump.flow.value == 2.5

    code, out, _ = await cli(capsys, "invoke", "plant/p1", "fail", "--wait", "--url", url, "--token", ALICE)
    assert code == 1
    assert re.fullmatch(
        r"A\d{9} error in 0\.00 s: PermanentEffectorError: broken on purpose: plant/p1\.fail\(\)\n", out
    )

    code, out, err = await cli(
        capsys, "invoke", "plant", "rebalance", "target=6", 'note="6"', "--url", url, "--token", ALICE
    )
    assert code == 0 and re.fullmatch(r'A\d{9} pending: plant\.rebalance\(target=6\.0, note="6"\)\n', out), out


async def test_invoke_refusals(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--url", url, "--token", ALICE]
    code, _, err = await cli(capsys, "invoke", "plant/p1", "set_flow", *base)
    assert code == 1 and err == "error: 422: missing argument 'value' (float) for effector 'set_flow'\n"
    code, _, err = await cli(capsys, "invoke", "plant/p1", "set_flow", "value", *base)
    assert code == 2 and err == "error: argument 'value' is not key=value\n"
    code, _, err = await cli(capsys, "invoke", "plant/p1", "set_flow", "value=1", "--url", url, "--token", BOB)
    assert code == 1 and err.startswith('error: 403: subject "bob" may not invoke plant/p1.set_flow')
    code, _, err = await cli(capsys, "invoke", "plant/p9", "start", *base)
    assert code == 1 and err == "error: 404: no entity 'plant/p9'\n"


async def test_wrong_token_and_daemon_down(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTONOMIC_TOKEN", raising=False)
    code, out, err = await cli(capsys, "tree", "--url", url, "--token", "wrong-token-wrong-token")
    assert code == 1 and out == ""
    assert err == "error: 401: invalid token (pass --token or set AUTONOMIC_TOKEN)\n"
    code, _, err = await cli(capsys, "tree", "--url", url)
    assert code == 1 and err.startswith("error: 401: missing bearer token")
    down = f"http://127.0.0.1:{free_port()}"
    code, out, err = await cli(capsys, "tree", "--url", down, "--token", ALICE)
    assert code == 3 and out == ""
    assert err == f"error: cannot reach the supervisor at {down}: connection refused\n"


async def test_decisions_why_and_mode(url: str, capsys: pytest.CaptureFixture[str], harness: Harness) -> None:
    base = ["--url", url, "--token", ALICE]
    code, out, _ = await cli(capsys, "decisions", *base)
    assert code == 0
    lines = out.splitlines()
    assert re.match(r"TIME\s+ROUND\s+ENTITY\s+TRIGGER\s+MODE\s+SYMPTOMS\s+ACTIONS\s+ERROR$", lines[0])
    first = harness.rounds("plant")[0]
    assert re.match(
        rf"t=0\.0\s+{first.id}\s+plant\s+lifecycle:plant\s+enforce\s+high_flow\s+plant/p1\.set_flow$", lines[1]
    )
    assert len(lines) == 1 + len(harness.rounds("plant"))

    action = harness.actions(effector="set_flow")[0]
    code, out, _ = await cli(capsys, "why", action.id, *base)
    assert code == 0
    assert out.splitlines() == [
        f"action    {action.id}  plant/p1.set_flow(value=1.0)",
        "outcome   ok in 0.00 s; result 1.0",
        "reason    too much flow",
        f"decided   by the manager of plant in round {first.id} at t=0.0",
        "trigger   lifecycle:plant (mode enforce)",
        f"input     digest {first.input_digest}; policy version {first.policy_version}",
        'symptom   high_flow (warning) {"total": 12}',
    ]

    code, out, _ = await cli(capsys, "mode", "plant", *base)
    assert code == 0 and out == "plant: enforce (configured enforce; modes: enforce, dry-run, approve, paused)\n"
    code, out, _ = await cli(capsys, "mode", "plant", "dry-run", *base)
    assert code == 0 and out == "plant: enforce -> dry-run\n"
    code, _, err = await cli(capsys, "mode", "plant", "fast", *base)
    assert code == 1 and "422: unknown mode 'fast'" in err


async def test_decisions_follow(
    url: str, capsys: pytest.CaptureFixture[str], harness: Harness, ctx: ApiContext
) -> None:
    args = _parser().parse_args(["decisions", "--follow", "--limit", "1", "--url", url, "--token", BOB])
    result: list[int] = []

    async def follow() -> None:
        result.append(await anyio.to_thread.run_sync(args.fn, args))

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            while ctx.bus.subscribers < 1:
                await anyio.sleep(0.01)
            pump = harness.runtime.root.find("plant/p2")
            assert isinstance(pump, Pump)
            pump.flow.publish(9.0)  # total 15: the policy sets p1 to 1 again
            await harness.advance(6)
            await anyio.sleep(0.3)  # let the stream carry the events to the thread
            ctx.bus.close()  # the stream ends, and the command with it
    out, _ = capsys.readouterr()
    assert result == [0]
    new = [r for r in harness.rounds("plant") if r.started >= 12]
    acted = [r for r in new if r.actions]
    assert acted, "the policy should have acted"
    assert re.search(rf"^t=\d+\.\d\s+{acted[0].id}\s+plant\s+\S+\s+enforce\s+high_flow\s+plant/p1\.set_flow", out, re.M)
    assert re.search(rf"^  -> {acted[0].actions[0]} plant/p1\.set_flow\(value=1\.0\) ok in 0\.00 s$", out, re.M)


async def test_approve_reject_commands(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["--url", url, "--token", ALICE]
    code, _, err = await cli(capsys, "approve", "A000000001", *base)
    assert code == 1 and "409: action A000000001 is not awaiting approval (it is ok)" in err

    def unsupported(self: ApiClient, action_id: str, verdict: str) -> dict[str, object]:
        raise ApiError(404, f"no route for POST /v1/actions/{action_id}/{verdict}")

    monkeypatch.setattr(ApiClient, "decide", unsupported)
    code, _, err = await cli(capsys, "reject", "A000000001", *base)
    assert code == 1 and err == "error: approvals are not supported by this daemon yet (reject A000000001)\n"


async def test_shutdown_ends_event_streams_promptly(ctx: ApiContext) -> None:
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve_api, ctx, "127.0.0.1", 0)
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c,
                c.stream("GET", "/v1/events", headers={"authorization": f"Bearer {ALICE}"}) as r,
            ):
                assert r.status_code == 200
                t0 = time.monotonic()
                tg.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    body = await r.aread()
    assert body == b": subscribed\n\n"
    assert time.monotonic() - t0 < 5
    # The port is free again.
    bind_socket("127.0.0.1", port).close()


async def test_a_port_in_use_fails_the_start(ctx: ApiContext) -> None:
    taken = bind_socket("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(ApiConfigError) as exc:
            bind_socket("127.0.0.1", port)
        assert str(exc.value) == f"the API cannot listen on 127.0.0.1:{port}: Address already in use"
        with pytest.raises(ApiConfigError, match="Address already in use"):
            await serve_api(ctx, "127.0.0.1", port)
    finally:
        taken.close()


async def test_serving_a_socket_bound_beforehand(ctx: ApiContext) -> None:
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    async with anyio.create_task_group() as tg:
        assert await tg.start(lambda task_status: serve_api(ctx, sock=sock, task_status=task_status)) == port
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        tg.cancel_scope.cancel()
    assert sock.fileno() == -1  # closed


def test_assignments_are_json_when_they_parse() -> None:
    assert parse_assignments(["n=4", "x=1.5", "ok=true", "name=web", 'q="4"', "l=[1,2]", "e=", "n2=null"]) == {
        "n": 4,
        "x": 1.5,
        "ok": True,
        "name": "web",
        "q": "4",
        "l": [1, 2],
        "e": "",
        "n2": None,
    }
