"""Repair time with real processes (issue 6): a worker killed with SIGKILL until it serves again.

    python benchmarks/bench_repair.py [--runs 5]

A cluster of three real HTTP worker processes (``python -m http.server``),
each managed by the library's ``autonomic.failover`` policy, on the real
clock. Each run kills one worker's process and measures the time until its
port answers HTTP again. Baseline, measured in the same run: a cold start of
the same worker to its first HTTP answer, without any supervisor.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anyio
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autonomic.blueprint import parse_blueprint
from autonomic.clock import SystemClock
from autonomic.knowledge import Knowledge, MemoryStore
from autonomic.supervisor import build_runtime
from benchmarks._common import machine, percentile, table

BLUEPRINT = f"""
entity:
  name: pool
  type: cluster
  config:
    initial_size: 3
    member:
      type: process
      config:
        command: ["{sys.executable}", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1"]
        port: auto
        health_url: "http://127.0.0.1:{{port}}/"
        health: {{interval_s: 0.2, timeout_s: 0.5}}
        restart_backoff_s: 0.1
      policies:
        - package: autonomic.failover
          config: {{failover: {{failure_window_s: 1}}}}
      manager: {{interval: 2, min_gap: 0.05, start_spread: 0}}
"""


def serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def cold_start() -> float:
    """Seconds from spawning a worker to its first HTTP answer (no supervisor)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        while not serving(port):
            time.sleep(0.005)
        took = time.perf_counter() - t0
        proc.terminate()
    return took


async def repairs(runs: int) -> list[float]:
    bp = parse_blueprint(BLUEPRINT, file="<bench>")
    clock = SystemClock()
    kn = Knowledge(MemoryStore(), clock)
    await kn.open()
    rt = build_runtime(bp, kn, clock)
    root = rt.root
    out = []
    async with rt.running():
        with anyio.fail_after(60):
            while len([m for m in root.children if m.ready]) < 3:
                await anyio.sleep(0.05)
        for i in range(runs):
            victim = root.children[i % 3]
            port = victim.sensor("port").value
            pid = victim.sensor("pid").value
            await anyio.sleep(2.5)  # past the failover policy's window of quick repeats
            t0 = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            with anyio.fail_after(30):
                while not await anyio.to_thread.run_sync(serving, port) or victim.sensor("pid").value == pid:
                    await anyio.sleep(0.005)
            out.append(time.perf_counter() - t0)
        await root.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    print(f"# autonomic repair benchmark\n\nmachine: {machine()}\n")
    base = sorted(cold_start() for _ in range(args.runs))
    times = anyio.run(repairs, args.runs)
    b50 = percentile(base, 50)
    rows = [
        (
            "repair p50: worker SIGKILLed to serving again (s)",
            f"{percentile(times, 50):.3f}",
            f"cold start {b50:.3f}",
            f"{percentile(times, 50) / b50:.1f}x",
        ),
        ("repair max (s)", f"{max(times):.3f}", f"cold start max {max(base):.3f}", f"{max(times) / max(base):.1f}x"),
    ]
    print(table(rows))


if __name__ == "__main__":
    main()
