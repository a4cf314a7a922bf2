"""Plots of a simulation run: load, servers, dimmer and response time over time, as PNG and SVG.

Drawn with matplotlib (the optional extra ``autonomic[plots]``), through its
object API (``Figure``, no pyplot state), so plotting works without a display
and from any thread.
"""

from __future__ import annotations

import math
from pathlib import Path

from autonomic.entities.swim import ServiceRecord

__all__ = ["PlotsUnavailable", "Series", "plot_record", "series"]


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed (``pip install 'autonomic[plots]'``)."""


class Series:
    """A run's record resampled to ``step_s`` seconds: the curves the plots draw (and the CSV holds)."""

    def __init__(self, record: ServiceRecord, step_s: float) -> None:
        per = max(1, round(step_s / record.bucket_s))
        self.step_s = per * record.bucket_s
        self.time: list[float] = []
        self.arrival_rate: list[float] = []
        self.throughput: list[float] = []
        self.response_time: list[float | None] = []
        self.servers: list[int] = []
        self.active: list[int] = []
        self.dimmer: list[float] = []
        self.utilization: list[float | None] = []
        self.queue: list[int] = []
        for lo in range(0, record.buckets, per):
            hi = min(record.buckets, lo + per)
            tau = (hi - lo) * record.bucket_s
            finished = sum(record.served[lo:hi]) + sum(record.timeouts[lo:hi])
            serving = math.fsum(record.serving_s[lo:hi])
            self.time.append(hi * record.bucket_s)
            self.arrival_rate.append(sum(record.arrivals[lo:hi]) / tau)
            self.throughput.append(sum(record.served[lo:hi]) / tau)
            self.response_time.append(math.fsum(record.rt_sum[lo:hi]) / finished if finished else None)
            self.servers.append(record.servers[hi - 1])
            self.active.append(record.active[hi - 1])
            self.dimmer.append(record.dimmer[hi - 1])
            self.utilization.append(math.fsum(record.busy_s[lo:hi]) / serving if serving > 0 else None)
            self.queue.append(record.queue[hi - 1])

    def csv(self) -> str:
        """The series as CSV text, one row per step."""
        head = "time_s,arrival_rate,throughput,response_time_s,servers,active_servers,dimmer,utilization,queue"
        rows = [head]
        for i, t in enumerate(self.time):
            rt = self.response_time[i]
            u = self.utilization[i]
            rows.append(
                f"{t:g},{self.arrival_rate[i]:.4f},{self.throughput[i]:.4f},"
                f"{'' if rt is None else f'{rt:.6f}'},{self.servers[i]},{self.active[i]},"
                f"{self.dimmer[i]:.4f},{'' if u is None else f'{u:.4f}'},{self.queue[i]}"
            )
        return "\n".join(rows) + "\n"


def series(record: ServiceRecord, step_s: float = 10.0) -> Series:
    """The record resampled to ``step_s`` seconds."""
    return Series(record, step_s)


def plot_record(
    record: ServiceRecord,
    out_base: Path,
    *,
    title: str,
    rt_goal_s: float,
    max_servers: int,
    step_s: float = 10.0,
) -> list[Path]:
    """Draw the four panels and write ``out_base``.png and .svg; return the paths written."""
    try:
        import matplotlib as mpl
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise PlotsUnavailable("plots need matplotlib: pip install 'autonomic[plots]'") from None

    s = series(record, step_s)
    minutes = [t / 60 for t in s.time]
    with mpl.rc_context({"svg.hashsalt": "autonomic", "font.size": 9}):
        fig = Figure(figsize=(10, 8.5), layout="constrained")
        ax_load, ax_servers, ax_dimmer, ax_rt = fig.subplots(4, 1, sharex=True)
        fig.suptitle(title)

        ax_load.plot(minutes, s.arrival_rate, color="#1f77b4", linewidth=1, label="arrivals")
        ax_load.plot(minutes, s.throughput, color="#2ca02c", linewidth=0.8, alpha=0.8, label="served")
        ax_load.set_ylabel("requests/s")
        ax_load.legend(loc="upper right", frameon=False)

        ax_servers.step(minutes, s.servers, where="post", color="#d62728", linewidth=1.2, label="servers")
        ax_servers.step(minutes, s.active, where="post", color="#ff9896", linewidth=1, linestyle="--", label="active")
        ax_servers.set_ylabel("servers")
        ax_servers.set_ylim(0, max_servers + 0.5)
        ax_servers.yaxis.get_major_locator().set_params(integer=True)
        ax_servers.legend(loc="upper right", frameon=False)

        ax_dimmer.step(minutes, s.dimmer, where="post", color="#9467bd", linewidth=1.2)
        ax_dimmer.set_ylabel("dimmer")
        ax_dimmer.set_ylim(-0.05, 1.05)

        rt_points = [(m, v) for m, v in zip(minutes, s.response_time, strict=True) if v is not None and v > 0]
        if rt_points:
            ax_rt.plot([p[0] for p in rt_points], [p[1] for p in rt_points], color="#ff7f0e", linewidth=1)
            ax_rt.set_yscale("log")
            # plain seconds (0.05, 1, 10) read better than powers of ten
            ax_rt.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax_rt.axhline(rt_goal_s, color="black", linestyle=":", linewidth=1, label=f"goal {rt_goal_s:g} s")
        ax_rt.set_ylabel(f"response time (s, {s.step_s:g} s mean)")
        ax_rt.set_xlabel("minutes")
        ax_rt.legend(loc="upper right", frameon=False)
        for ax in (ax_load, ax_servers, ax_dimmer, ax_rt):
            ax.grid(True, linewidth=0.3, alpha=0.5)

        out_base.parent.mkdir(parents=True, exist_ok=True)
        png = out_base.with_suffix(".png")
        svg = out_base.with_suffix(".svg")
        fig.savefig(png, dpi=110, metadata={"Software": None})
        fig.savefig(svg, metadata={"Date": None})
    return [png, svg]
