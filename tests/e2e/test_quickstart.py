"""docs/quickstart.md, followed literally: its files, its commands, its claims."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "quickstart.md"


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    blocks = re.findall(r"```(\w+)\n(.*?)```", DOC.read_text(), re.S)
    targets = {
        "python": ["jobqueue.py", "test_jobqueue.py"],
        "rego": ["policies/jobqueue.rego"],
        "yaml": ["blueprint.yaml"],
    }
    (tmp_path / "policies").mkdir()
    for lang, body in blocks:
        if targets.get(lang):
            (tmp_path / targets[lang].pop(0)).write_text(body)
    assert not any(targets.values()), f"quickstart is missing code blocks: {targets}"
    return tmp_path


def autonomic(cwd: Path, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autonomic", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_policy_eval_step(quickstart: Path) -> None:
    cmd = DOC.read_text().split("Test it before running anything:", 1)[1]
    stdin = re.search(r"echo '(.*?)'", cmd, re.S).group(1)  # type: ignore[union-attr]
    out = autonomic(
        quickstart, "policy", "eval", "--data", "policies/", "--input", "-", "data.jobs.scaling.decision", stdin=stdin
    )
    assert out.returncode == 0, out.stderr
    decision = json.loads(out.stdout)
    assert decision["actions"][0]["args"] == {"count": 4}
    assert decision["symptoms"][0]["name"] == "backlog"


def test_validate_and_run_steps(quickstart: Path) -> None:
    v = autonomic(quickstart, "validate", "blueprint.yaml")
    assert v.returncode == 0 and "ok: 1 entities, 1 managed" in v.stdout, v.stderr
    r = autonomic(quickstart, "run", "blueprint.yaml", "--duration", "5", "--log-format", "json")
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert any(e["event"] == "round" for e in lines)
    actions = [e for e in lines if e["event"] == "action"]
    assert actions and actions[0]["args"] == {"count": 3} and actions[0]["status"] == "ok"
    assert (quickstart / "jobs.db").exists()


def test_the_quickstart_test_passes(quickstart: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_jobqueue.py"],
        cwd=quickstart,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:]
