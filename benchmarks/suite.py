"""The performance suite in one command: every benchmark, one table each.

    python benchmarks/suite.py [--quick]

Runs, in this order: decision latency on both engines (a real OPA server is
started), core figures, supervisor scale at 1,000 / 10,000 / 50,000 entities
with reaction and start-up, repair with real processes, and simulation speed.
Each script prints figures with a baseline measured in the same run;
docs/performance.md keeps the latest tables and what limits each figure.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer samples (a smoke run)")
    args = ap.parse_args()
    runs = [
        ["bench_engines.py", *(["--n", "200"] if args.quick else [])],
        ["bench_core.py", *(["--clusters", "50", "--sim-seconds", "5", "--real-seconds", "3"] if args.quick else [])],
        ["bench_scale.py", *(["--sizes", "1000", "--sim-seconds", "3", "--real-seconds", "3"] if args.quick else [])],
        ["bench_repair.py", *(["--runs", "2"] if args.quick else [])],
        ["bench_simulate.py"],
    ]
    failed = []
    for script, *rest in runs:
        path = HERE / script
        if not path.exists():
            print(f"\n({script} is not present: skipped)\n")
            continue
        print(f"\n## {script}\n", flush=True)
        if subprocess.run([sys.executable, str(path), *rest], check=False).returncode != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
