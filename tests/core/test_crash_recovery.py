"""Kill -9 the supervisor at random moments, many times: no journal entry is lost and no
non-idempotent effector call is repeated; what was in flight is reconciled on restart."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from autonomic.clock import VirtualClock
from autonomic.knowledge import ActionRecord, ActionStatus, Knowledge, MemoryStore
from autonomic.policy import EmbeddedEngine, PolicySet
from autonomic.runtime import Runtime
from tests.core.entities_for_tests import Cluster, cluster_with

ROOT = Path(__file__).parents[2]


def run_scenario(db: Path, effects: Path, seconds: float, kill_after: float | None) -> int:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.core.crash_scenario", str(db), str(effects), str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("ready")
        if kill_after is None:
            return proc.wait(timeout=60)
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        return proc.wait(timeout=30)


def test_random_kills_lose_no_journal_entry_and_repeat_no_unsafe_call(tmp_path: Path) -> None:
    db, effects = tmp_path / "k.db", tmp_path / "effects.log"
    rng = random.Random(20261121)
    kills = 12
    for _ in range(kills):
        assert run_scenario(db, effects, 30, kill_after=rng.uniform(0.4, 1.2)) == -signal.SIGKILL
    assert run_scenario(db, effects, 1.0, kill_after=None) == 0  # a clean run reconciles the last kill

    with sqlite3.connect(db) as conn:
        actions = [
            ActionRecord.from_json(json.loads(d)) for (d,) in conn.execute("SELECT doc FROM actions ORDER BY seq")
        ]
        recovery = [json.loads(d) for (d,) in conn.execute("SELECT doc FROM rounds WHERE entity = 'crash'")]
    lines = effects.read_text().splitlines()
    appended = [line.split(" ", 1)[1] for line in lines if line.startswith("append ")]

    # No non-idempotent call repeated.
    repeated = [t for t, n in Counter(appended).items() if n > 1]
    assert repeated == []
    # No effect without its journal entry (journaled before the effector runs)...
    journaled = {a.args["token"]: a for a in actions if a.effector == "append"}
    assert set(appended) <= set(journaled)
    # ...and every call journaled as done really happened.
    done = {t for t, a in journaled.items() if a.status is ActionStatus.OK}
    assert done <= set(appended)
    # Nothing is left in flight; what was in flight at a kill is "unknown", never re-run if unsafe.
    assert not [a for a in actions if not a.status.final]
    unknown = [a for a in actions if a.status is ActionStatus.UNKNOWN]
    assert unknown, "with 12 kills during constant actions some must have been in flight"
    unknown_appends = [a for a in unknown if a.effector == "append"]
    for a in unknown_appends:
        assert sum(1 for b in actions if b.effector == "append" and b.args == a.args) == 1
    rerun = Counter(a.reason.split()[3] for a in actions if a.reason.startswith("re-run after restart:"))
    unknown_safe = {a.id for a in unknown if a.effector == "set_level"}
    assert set(rerun) == unknown_safe and set(rerun.values()) == {1}  # each safe one re-run (or held) once
    assert any(r["trigger"] == "recovery" for r in recovery)
    assert len(actions) > 200  # it was action-heavy


@pytest.mark.anyio
async def test_recovery_escalates_unknown_unsafe_actions_and_reruns_safe_ones() -> None:
    clock = VirtualClock()
    store = MemoryStore()
    kn = Knowledge(store, clock)
    c = cluster_with(2)
    safe = ActionRecord(
        id="A000000001",
        round_id="R1",
        manager="c",
        target="c",
        effector="resize",
        args={"replicas": 3},
        status=ActionStatus.RUNNING,
        idempotent=True,
    )
    unsafe = ActionRecord(
        id="A000000002",
        round_id="R1",
        manager="c",
        target="c",
        effector="explode",
        args={"why": "x"},
        status=ActionStatus.PENDING,
        idempotent=False,
    )
    await store.begin_action(safe)
    await store.begin_action(unsafe)
    await kn.open()  # as after a restart: the journal already holds them
    seen = """package seen
import rego.v1
decision := {"symptoms": [{"name": e.symptom, "severity": "critical", "detail": e.detail} |
	some e in input.events
	e.type == "escalation"
]}
"""
    from autonomic import ManagementSpec, ManagerSettings, PolicyBinding

    rt = Runtime(
        c,
        EmbeddedEngine(PolicySet.from_texts({"s.rego": seen})),
        kn,
        clock,
        management={
            "c": ManagementSpec(bindings=(PolicyBinding(package="seen"),), settings=ManagerSettings(interval=100))
        },
        restore_state=True,
    )
    async with rt.running():
        await clock.run(5)
    by_id = {a.id: a for a in store.all_actions}
    assert by_id["A000000001"].status is ActionStatus.UNKNOWN and by_id["A000000002"].status is ActionStatus.UNKNOWN
    reruns = [a for a in store.all_actions if a.reason.startswith("re-run after restart: A000000001")]
    assert len(reruns) == 1 and reruns[0].status is ActionStatus.OK and len(c.children) == 3
    assert isinstance(c, Cluster) and "explode" not in c.calls
    escalated = [s for r in store.all_rounds if r.decision for s in r.decision["symptoms"]]
    assert escalated and escalated[0]["name"] == "action_outcome_unknown"
    assert escalated[0]["detail"]["action"]["id"] == "A000000002"
    recovery = [r for r in store.all_rounds if r.trigger == "recovery"]
    assert len(recovery) == 1 and len(recovery[0].problems) == 2
