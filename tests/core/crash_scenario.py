"""An action-heavy supervisor run, killed at random moments by test_crash_recovery.

    python -m tests.core.crash_scenario DB EFFECTS SECONDS

Every round decides a non-idempotent ``append`` with a fresh token, then an
idempotent ``set_level``; the effectors write what they do to EFFECTS so the
test can compare the world with the journal.
"""

from __future__ import annotations

import os
import random
import sys

import anyio

from autonomic import Entity, ManagementSpec, ManagerSettings, PolicyBinding, effector
from autonomic.clock import SystemClock
from autonomic.knowledge import Knowledge, SQLiteStore
from autonomic.policy import EmbeddedEngine, PolicySet
from autonomic.runtime import Runtime

POLICY = """package crash
import rego.v1
decision := {"actions": [
	{"target": "self", "effector": "append", "args": {"token": sprintf("t-%v-%v", [input.now, count(input.knowledge.actions)])}},
	{"target": "self", "effector": "set_level", "args": {"level": count(input.knowledge.actions) % 7}},
]}
"""


class Journaled(Entity, type_name="crash-journaled"):
    """Writes every effect to a file, flushed before the effector returns."""

    effects_path = ""

    def _write(self, line: str) -> None:
        with open(self.effects_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()

    @effector(timeout=5, idempotent=False)
    async def append(self, token: str) -> None:
        await anyio.sleep(random.uniform(0, 0.02))
        self._write(f"append {token}")
        await anyio.sleep(random.uniform(0, 0.02))

    @effector(timeout=5, idempotent=True)
    async def set_level(self, level: int) -> None:
        await anyio.sleep(random.uniform(0, 0.01))
        self._write(f"level {level}")


async def main(db: str, effects: str, seconds: float) -> None:
    clock = SystemClock()
    knowledge = Knowledge(SQLiteStore(db), clock)
    await knowledge.open()
    e = Journaled("crash")
    e.effects_path = effects
    spec = ManagementSpec(
        bindings=(PolicyBinding(package="crash"),),
        settings=ManagerSettings(interval=0.03, min_gap=0.01, start_spread=0),
    )
    rt = Runtime(
        e,
        EmbeddedEngine(PolicySet.from_texts({"crash.rego": POLICY})),
        knowledge,
        clock,
        management={"crash": spec},
        restore_state=True,
    )
    print("ready", os.getpid(), flush=True)
    async with rt.running():
        await anyio.sleep(seconds)
    await knowledge.close()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], float(sys.argv[3]))
