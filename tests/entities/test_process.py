"""ProcessEntity with real processes: launch, sensors, graceful and forced stops, death, restarts, policy repair."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from autonomic.clock import SystemClock
from autonomic.entities.process import ProcessEntity, describe_exit
from autonomic.errors import ConfigError, PermanentEffectorError, TemporaryEffectorError
from autonomic.knowledge import Knowledge, MemoryStore
from autonomic.knowledge.records import ActionStatus
from autonomic.lifecycle import Lifecycle
from autonomic.mape import ManagementSpec, ManagerSettings, PolicyBinding
from autonomic.policy import EmbeddedEngine, PolicySet
from autonomic.runtime import Runtime
from tests.entities import actual, is_ready, is_up, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PY = sys.executable


def gone(pid: int) -> bool:
    """No such process, or only a zombie left for init to reap (it is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(")") + 2 :].split()[0] == "Z"


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def web_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """``python -m http.server`` on an automatic port, ready when it answers."""
    root = tmp_path / "www"
    root.mkdir(exist_ok=True)
    return {
        "command": [PY, "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", str(root)],
        "port": "auto",
        "health_url": "http://127.0.0.1:{port}/",
        "health": {"interval_s": 0.2, "timeout_s": 1.0},
        "ready_timeout_s": 15,
        "stop_timeout_s": 5,
        "restart_backoff_s": 0.05,
        **overrides,
    }


SLEEPER = [PY, "-c", "import time; time.sleep(60)"]


async def get(port: int) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/", timeout=2)).status_code


async def test_serves_publishes_sensors_and_stops_gracefully(tmp_path: Path) -> None:
    e = ProcessEntity("web", web_config(tmp_path, log_dir=str(tmp_path / "logs")))
    async with e.hosted():
        await e.start()
        assert actual(e) is Lifecycle.RUNNING
        assert is_up(e) and is_ready(e), e.not_up_reasons
        v = e.sensor_values()
        pid, port = v["pid"], v["port"]
        assert isinstance(pid, int) and not gone(pid)
        assert isinstance(port, int)
        assert v["alive"] is True and v["restarts"] == 0 and v["exit_code"] is None
        assert v["probe_ok"] is True and v["status_code"] == 200

        assert await get(port) == 200
        await e.poll()
        v = e.sensor_values()
        assert v["rss"] > 1_000_000  # a Python interpreter holds megabytes
        assert v["cpu"] is not None and v["cpu"] >= 0
        assert v["uptime"] > 0

        started = time.monotonic()
        await e.stop()
        assert time.monotonic() - started < 3  # SIGTERM was enough
        assert actual(e) is Lifecycle.STOPPED
        v = e.sensor_values()
        assert v["alive"] is False and v["pid"] is None
        assert v["exit_code"] == -signal.SIGTERM
        assert gone(pid)
    # http.server logs each request on stderr, which went to the log file
    assert "GET / " in (tmp_path / "logs" / "web.stderr.log").read_text()


async def test_stop_kills_a_process_that_ignores_the_stop_signal(tmp_path: Path) -> None:
    armed = tmp_path / "armed"
    stubborn = script(
        tmp_path,
        "stubborn.py",
        """
        import pathlib, signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pathlib.Path(sys.argv[1]).write_text("armed")
        time.sleep(60)
        """,
    )
    e = ProcessEntity("stubborn", {"command": [PY, stubborn, str(armed)], "stop_timeout_s": 0.5})
    async with e.hosted():
        await e.start()
        pid = e.pid.value
        await wait_until(armed.exists, 10, "the script to ignore SIGTERM")
        started = time.monotonic()
        await e.stop()
        elapsed = time.monotonic() - started
        assert 0.5 <= elapsed < 3, elapsed
        assert e.exit_code.value == -signal.SIGKILL
        assert actual(e) is Lifecycle.STOPPED
        assert gone(pid)


async def test_stop_takes_the_whole_process_group(tmp_path: Path) -> None:
    child_pid = tmp_path / "child.pid"
    parent = script(
        tmp_path,
        "parent.py",
        """
        import pathlib, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        pathlib.Path(sys.argv[1]).write_text(str(child.pid))
        time.sleep(60)
        """,
    )
    e = ProcessEntity("parent", {"command": [PY, parent, str(child_pid)], "stop_timeout_s": 5})
    async with e.hosted():
        await e.start()
        pid = e.pid.value
        await wait_until(lambda: child_pid.exists() and child_pid.read_text() != "", 10, "the child to start")
        grandchild = int(child_pid.read_text())
        assert not gone(grandchild)
        await e.stop()
        assert gone(pid)
        assert gone(grandchild), "the process's own child outlived the stop"


async def test_kill_9_is_noticed_at_once(tmp_path: Path) -> None:
    e = ProcessEntity("victim", {"command": SLEEPER})
    async with e.hosted():
        await e.start()
        assert is_up(e)
        pid = e.pid.value
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        with anyio.fail_after(5):
            code = await e.wait_exit()  # nobody polls: the watcher alone notices
        assert time.monotonic() - killed < 1.0
        assert code == -signal.SIGKILL
        assert actual(e) is Lifecycle.ON_FIRE
        assert e.lifecycle.expected is Lifecycle.RUNNING
        assert not is_up(e) and not is_ready(e)
        assert e.not_up_reasons == {"process": "killed by signal SIGKILL"}
        v = e.sensor_values()
        assert v["alive"] is False and v["exit_code"] == -9 and v["pid"] is None
        assert gone(pid)


async def test_exit_code_is_the_reason(tmp_path: Path) -> None:
    e = ProcessEntity("quitter", {"command": [PY, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"]})
    async with e.hosted():
        await e.start()
        with anyio.fail_after(10):
            assert await e.wait_exit() == 3
        assert actual(e) is Lifecycle.ON_FIRE
        assert e.not_up_reasons == {"process": "exited with code 3"}
        assert e.exit_code.value == 3


async def test_restart_counts_and_brings_it_back(tmp_path: Path) -> None:
    e = ProcessEntity("web", web_config(tmp_path))
    async with e.hosted():
        await e.start()
        first_pid, port = e.pid.value, e.port.value

        await e.restart()
        assert e.restarts.value == 1
        assert actual(e) is Lifecycle.RUNNING and is_ready(e)
        assert e.pid.value != first_pid and gone(first_pid)
        assert e.port.value == port  # an automatic port is kept while free
        assert await get(port) == 200

        # After a crash, restart repairs it too (after the short backoff).
        os.kill(e.pid.value, signal.SIGKILL)
        with anyio.fail_after(5):
            await e.wait_exit()
        assert actual(e) is Lifecycle.ON_FIRE
        await e.restart()
        assert e.restarts.value == 2
        assert actual(e) is Lifecycle.RUNNING
        assert is_up(e) and is_ready(e) and e.not_up_reasons == {}
        assert await get(port) == 200

        # A plain start repairs it as well, on the same port.
        os.kill(e.pid.value, signal.SIGKILL)
        with anyio.fail_after(5):
            await e.wait_exit()
        await e.start()
        assert e.restarts.value == 3 and e.port.value == port
        assert is_ready(e) and await get(port) == 200


async def test_quick_crashes_back_off_and_a_stop_forgives(tmp_path: Path) -> None:
    crash = tmp_path / "crash"
    crash.touch()
    flaky = f"import os, sys, time; sys.exit(1) if os.path.exists({str(crash)!r}) else time.sleep(60)"
    e = ProcessEntity("flaky", {"command": [PY, "-c", flaky], "restart_backoff_s": 0.2, "restart_backoff_max_s": 10})

    async def timed_start() -> float:
        started = time.monotonic()
        await e.start()
        return time.monotonic() - started

    async def crashed() -> None:
        with anyio.fail_after(10):
            assert await e.wait_exit() == 1
        assert actual(e) is Lifecycle.ON_FIRE

    async with e.hosted():
        assert await timed_start() < 0.2  # the first launch does not wait
        await crashed()
        assert 0.2 <= await timed_start() < 0.4  # one crash: the base backoff
        await crashed()
        assert 0.4 <= await timed_start() < 0.8  # two in a row: doubled
        await crashed()
        await e.stop()  # the process is dead already: this stop forgives nothing
        crash.unlink()
        assert 0.8 <= await timed_start() < 1.6  # three in a row
        assert e.alive.value is True
        await e.stop()  # stopping a live process starts the count afresh
        assert await timed_start() < 0.2
        assert e.restarts.value == 4


async def test_leaving_the_runtime_takes_the_process_along(tmp_path: Path) -> None:
    clock = SystemClock()
    knowledge = Knowledge(MemoryStore(), clock)
    await knowledge.open()
    worker = ProcessEntity("worker", {"command": SLEEPER, "stop_timeout_s": 2})
    try:
        async with Runtime(worker, EmbeddedEngine(PolicySet.from_texts({})), knowledge, clock).running():
            await wait_until(lambda: worker.alive.value is True, 10, "the worker to start")
            pid = worker.pid.value
            # no stop: the runtime shuts down with the process running
    finally:
        await knowledge.close()
    assert gone(pid), "the process outlived its runtime"
    assert actual(worker) is Lifecycle.STOPPED
    assert worker.alive.value is False


async def test_output_is_drained_so_the_process_never_blocks(tmp_path: Path) -> None:
    done = tmp_path / "done"
    chatty = script(
        tmp_path,
        "chatty.py",
        """
        import pathlib, sys, time
        for i in range(20000):  # far more than a pipe holds
            print(f"line {i}", flush=False)
            print(f"err {i}", file=sys.stderr)
        sys.stdout.flush()
        pathlib.Path(sys.argv[1]).write_text("done")
        time.sleep(60)
        """,
    )
    e = ProcessEntity("chatty", {"command": [PY, chatty, str(done)]})
    async with e.hosted():
        await e.start()
        await wait_until(done.exists, 15, "the script to write all its output")
        await wait_until(lambda: e.output_tail("stdout")[-1:] == ["line 19999"], 5, "the last stdout line")
        await wait_until(lambda: e.output_tail("stderr")[-1:] == ["err 19999"], 5, "the last stderr line")


async def test_start_fails_when_the_process_dies_before_ready(tmp_path: Path) -> None:
    e = ProcessEntity(
        "broken",
        {"command": [PY, "-c", "import sys; sys.exit(2)"], "port": "auto", "health_url": "http://127.0.0.1:{port}/"},
    )
    async with e.hosted():
        with pytest.raises(TemporaryEffectorError, match="exited with code 2 before it became ready"):
            await e.start()
        assert actual(e) is Lifecycle.ON_FIRE
        assert e.not_up_reasons == {"process": "exited with code 2"}


async def test_start_fails_and_stops_the_process_when_never_ready(tmp_path: Path) -> None:
    e = ProcessEntity(
        "mute",
        {"command": SLEEPER, "port": "auto", "health_url": "http://127.0.0.1:{port}/", "ready_timeout_s": 0.5},
    )
    async with e.hosted():
        started = time.monotonic()
        with pytest.raises(TemporaryEffectorError, match=r"not ready within 0.5 s \(connection refused\)"):
            await e.start()
        assert time.monotonic() - started < 5
        assert actual(e) is Lifecycle.ON_FIRE
        assert e.exit_code.value == -signal.SIGTERM
        assert e.alive.value is False


async def test_unhosted_start_fails_clearly_and_launches_nothing() -> None:
    e = ProcessEntity("loose", {"command": SLEEPER})
    with pytest.raises(PermanentEffectorError, match=r"Runtime.*hosted\(\)"):
        await e.start()
    assert actual(e) is Lifecycle.ON_FIRE
    assert e.pid.value is None and e.alive.value is False


async def test_port_placeholder_needs_a_port(tmp_path: Path) -> None:
    e = ProcessEntity("noport", {"command": [PY, "-m", "http.server", "{port}"]})
    async with e.hosted():
        with pytest.raises(PermanentEffectorError, match=r"uses \{port\} but config.port is not set"):
            await e.start()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"command": []}, "must name a program"),
        ({"command": ["x"], "stop_signal": "SIGNOPE"}, "unknown signal"),
        ({"command": ["x"], "port": "any"}, "port must be"),
        ({"command": ["x"], "health_url": "localhost:80"}, "http:// or https://"),
        ({"command": ["x"], "health": {"success_threshold": 0}}, "success_threshold must be >= 1"),
    ],
)
def test_config_is_checked(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ProcessEntity("p", config)


def test_describe_exit() -> None:
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(-9) == "killed by signal SIGKILL"


RESTART_ON_FIRE = """
package test.process_repair

import rego.v1

decision := {
    "symptoms": [{"name": "process_down", "severity": "critical", "detail": input.entity.not_up_reasons}],
    "actions": [{"target": "self", "effector": "restart", "reason": "the process is on fire"}],
} if input.entity.lifecycle == "on_fire"
"""


async def test_a_policy_restarts_a_killed_process(tmp_path: Path) -> None:
    clock = SystemClock()
    store = MemoryStore()
    knowledge = Knowledge(store, clock)
    await knowledge.open()
    worker = ProcessEntity("worker", web_config(tmp_path))
    runtime = Runtime(
        worker,
        EmbeddedEngine(PolicySet.from_texts({"repair.rego": RESTART_ON_FIRE})),
        knowledge,
        clock,
        management={
            "worker": ManagementSpec(
                bindings=(PolicyBinding(package="test.process_repair"),),
                settings=ManagerSettings(interval=0.5, min_gap=0.1),
            )
        },
    )
    try:
        async with runtime.running():
            try:
                await wait_until(lambda: is_ready(worker), 15, "the worker to start and serve")
                port, pid = worker.port.value, worker.pid.value
                assert await get(port) == 200

                os.kill(pid, signal.SIGKILL)
                with anyio.fail_after(5):
                    await worker.wait_exit()
                assert actual(worker) is Lifecycle.ON_FIRE

                await wait_until(
                    lambda: worker.restarts.value == 1 and is_ready(worker), 15, "the policy to restart the worker"
                )
                assert worker.pid.value != pid and gone(pid)
                assert await get(port) == 200
                await wait_until(
                    lambda: any(a.status is ActionStatus.OK for a in store.all_actions), 5, "the action to finish"
                )
            finally:
                await worker.stop()
    finally:
        await knowledge.close()
    restarts = [a for a in store.all_actions if a.effector == "restart"]
    assert len(restarts) == 1, restarts
    assert restarts[0].status is ActionStatus.OK, restarts[0]
    assert restarts[0].target == "worker" and restarts[0].reason == "the process is on fire"
    assert not any(r.error for r in store.all_rounds)
