"""The simulated example blueprint, end to end on the virtual clock (and briefly on the real one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autonomic.blueprint import load_blueprint
from autonomic.clock import VirtualClock
from autonomic.knowledge import Knowledge, MemoryStore
from autonomic.lifecycle import Lifecycle
from autonomic.supervisor import build_runtime

EXAMPLE = Path(__file__).parents[2] / "examples" / "simulated" / "blueprint.yaml"


@pytest.mark.anyio
async def test_ten_minutes_of_the_example_scale_out_in_and_repair() -> None:
    bp = load_blueprint(EXAMPLE)
    clock = VirtualClock()
    store = MemoryStore()
    knowledge = Knowledge(store, clock)
    await knowledge.open()
    rt = build_runtime(bp, knowledge, clock)
    root = rt.root
    web = root.find("shop/web")
    assert web is not None
    sizes: list[int] = []
    async with rt.running():
        for _ in range(60):
            await clock.run(10)
            sizes.append(len(web.children))
    assert max(sizes) >= 6, sizes  # the 600 rps peak needs at least 6 members of 100 rps
    assert sizes[-1] <= 3 or min(sizes[20:]) <= 3, sizes  # and the trough lets it shrink again
    resizes = [a for a in store.all_actions if a.effector == "resize"]
    assert resizes and all(a.status.value in {"ok", "held", "skipped"} for a in resizes)
    restarts = [a for a in store.all_actions if a.effector == "restart" and a.status.value == "ok"]
    assert restarts, "members crash at 30/hour; the policy restarts them"
    assert all(m.lifecycle.actual is not Lifecycle.ON_FIRE for m in web.children) or restarts
    assert not [r for r in store.all_rounds if r.error]


def test_the_example_runs_as_a_daemon_and_stops_cleanly(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "autonomic",
            "run",
            str(EXAMPLE),
            "--duration",
            "6",
            "--store",
            str(tmp_path / "k.db"),
            "--log-format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert '"event": "round"' in out.stderr and '"event": "supervisor_stop"' in out.stderr


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_signal_drains_flushes_and_exits_zero(tmp_path: Path, signame: str) -> None:
    import signal
    import sqlite3
    import time

    db = tmp_path / "k.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "autonomic", "run", str(EXAMPLE), "--store", str(db), "--log-format", "json"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        for line in proc.stderr:
            if '"event": "round"' in line or time.monotonic() > deadline:
                break
        proc.send_signal(getattr(signal, signame))
        rest = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest[-2000:]
    assert '"event": "signal"' in rest and '"event": "supervisor_stop"' in rest
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM rounds").fetchone()[0] >= 1
        assert conn.execute("SELECT count(*) FROM state WHERE entity = 'shop/web'").fetchone()[0] >= 1


@pytest.mark.anyio
async def test_the_live_view_shows_tree_sensors_and_decisions() -> None:
    from autonomic.view import render

    bp = load_blueprint(EXAMPLE)
    clock = VirtualClock()
    knowledge = Knowledge(MemoryStore(), clock)
    await knowledge.open()
    rt = build_runtime(bp, knowledge, clock)
    async with rt.running():
        await clock.run(0.5)
        starting = render(rt, color=False)
        await clock.run(120)
        frame = render(rt, color=False, width=200, height=60)
    assert "starting" in starting  # slow start-up steps show progress
    assert "web [sim-web-cluster] running" in frame and "demand_rps=" in frame
    assert "latest decisions" in frame and "resize(self)" in frame
    assert "latest actions" in frame and "shop/web.resize(replicas=" in frame


@pytest.mark.integration
def test_the_example_runs_unchanged_on_a_real_opa_server(tmp_path: Path) -> None:
    """The same blueprint and Rego, with `engine: {type: opa}`: the supervisor starts OPA and decides through it."""
    import shutil

    shutil.copytree(EXAMPLE.parent, tmp_path / "sim", ignore=shutil.ignore_patterns(".autonomic"))
    bp = tmp_path / "sim" / "blueprint.yaml"
    bp.write_text(bp.read_text().replace("name: sim-shop\n", "name: sim-shop\nengine:\n  type: opa\n"))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "autonomic",
            "run",
            str(bp),
            "--duration",
            "8",
            "--store",
            "memory",
            "--log-format",
            "json",
            "--no-view",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    events = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    started = [e for e in events if e["event"] == "opa_started"]
    assert started and started[0]["url"].startswith("http://127.0.0.1:")
    assert [e for e in events if e["event"] == "supervisor_start"][0]["engine"] == "opa"
    rounds = [e for e in events if e["event"] == "round"]
    assert rounds and not [r for r in rounds if r.get("error")]
