"""Shared helpers for the benchmark scripts: percentiles, tables, machine description."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def machine() -> str:
    """One line describing this machine."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load:.2f}"
    )


def table(rows: list[tuple[str, str, str, str]]) -> str:
    """A Markdown table: figure, value, baseline, ratio."""
    head = ("figure", "value", "baseline (same run)", "ratio")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (NaN when empty)."""
    return statistics.fmean(values) if values else float("nan")
