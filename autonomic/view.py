"""A live terminal view of a running supervisor: the tree, key sensors, the latest decisions.

Redrawn in place about once a second when the output is a terminal. Entities
that are starting show how long they have been at it, so slow start-up steps
(initdb, a base backup, a process's first health check) are visible as progress.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any, TextIO

import anyio

from autonomic.entity import Entity
from autonomic.lifecycle import Lifecycle
from autonomic.runtime import Runtime

__all__ = ["render", "run_view"]

_STATE = {
    Lifecycle.RUNNING: ("\x1b[32m", "running"),
    Lifecycle.STARTING: ("\x1b[33m", "starting"),
    Lifecycle.STOPPING: ("\x1b[33m", "stopping"),
    Lifecycle.STOPPED: ("\x1b[90m", "stopped"),
    Lifecycle.ON_FIRE: ("\x1b[31m", "ON FIRE"),
    Lifecycle.CREATED: ("\x1b[90m", "created"),
}
_RESET = "\x1b[0m"
_SPIN = "|/-\\"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    if isinstance(value, (dict, list)):
        return f"{{{len(value)}}}" if isinstance(value, dict) else f"[{len(value)}]"
    return str(value)


def _sensors(e: Entity, width: int) -> str:
    parts = []
    for name, value in e.sensor_values().items():
        if value is None or isinstance(value, (dict, list)):
            continue
        parts.append(f"{name}={_fmt(value)}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def render(rt: Runtime, *, width: int = 120, height: int = 40, color: bool = True, tick: int = 0) -> str:
    """One frame of the view, as text."""
    now = rt.clock.now()
    lines: list[str] = []
    managed = set(rt.managers)
    busy = rt.executor.in_flight
    lines.append(f"autonomic — {rt.root.id} — {len(managed)} managers, {len(busy)} actions in flight")
    lines.append("")
    budget = max(5, height - 16)
    entities = list(rt.root.walk())
    for e in entities[:budget]:
        depth = e.id.count("/")
        code, label = _STATE.get(e.lifecycle.actual, ("", e.lifecycle.actual.value))
        if e.lifecycle.actual in (Lifecycle.STARTING, Lifecycle.STOPPING):
            label = f"{label} {_SPIN[tick % 4]} {now - e.lifecycle.since:.0f}s"
        flags = ("M" if e.id in managed else " ") + ("!" if e.not_up_reasons else " ")
        state = f"{code}{label}{_RESET}" if color and code else label
        head = f"{flags} {'  ' * depth}{e.name} [{e.type_name}] "
        lines.append(f"{head}{state}  {_sensors(e, max(10, width - len(head) - len(label) - 4))}")
        for reason in list(e.not_up_reasons.values())[:1]:
            lines.append(f"    {'  ' * depth}not up: {reason}"[:width])
    if len(entities) > budget:
        lines.append(f"  … and {len(entities) - budget} more entities")
    lines.append("")
    lines.append("latest decisions")
    notable = [
        r
        for r in rt.knowledge.recent_rounds
        if r.error or r.problems or (r.decision or {}).get("actions") or (r.decision or {}).get("symptoms")
    ][-6:]
    for r in notable:
        d = r.decision or {}
        what = (
            r.error
            or ", ".join(
                [s["name"] for s in d.get("symptoms", [])]
                + [f"{a['effector']}({a['target']})" for a in d.get("actions", [])]
            )
            or "; ".join(r.problems)
        )
        lines.append(f"  {r.id} {r.entity}: {what}"[:width])
    lines.append("latest actions")
    for a in rt.knowledge.recent_actions(6):
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in a.args.items())
        lines.append(
            f"  {a.id} {a.target}.{a.effector}({args}) {a.status.value}{' — ' + a.error if a.error else ''}"[:width]
        )
    return "\n".join(lines[:height])


async def run_view(rt: Runtime, *, out: TextIO | None = None, interval: float = 1.0) -> None:
    """Redraw the view in place until cancelled."""
    stream = out or sys.stdout
    tick = 0
    try:
        while True:
            size = shutil.get_terminal_size((120, 40))
            frame = render(rt, width=size.columns, height=size.lines - 1, tick=tick)
            stream.write("\x1b[H\x1b[2J" + frame + "\n")
            stream.flush()
            tick += 1
            await anyio.sleep(interval)
    finally:
        stream.write(_RESET + "\n")
        stream.flush()
