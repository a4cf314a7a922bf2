"""What a simulation run amounts to: utility, late and optional shares, servers, actions, oscillations.

The utility function follows SWIM's (Moreno et al.; ``UtilityScorer`` in
SWIM's sources), evaluated per period of ``utility.period_s`` seconds, plus a
server cost, as :class:`autonomic.entities.swim.Utility` documents; the
definitions of every figure are in docs/simulation.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from autonomic.entities.swim import ServiceRecord, SimWebService, Utility, nearest_rank
from autonomic.knowledge.records import ActionRecord, ActionStatus

__all__ = ["PeriodUtility", "RunInfo", "ServiceSummary", "Summary", "comparison_table", "oscillations", "summarize"]


@attrs.frozen(kw_only=True)
class PeriodUtility:
    """The utility of one evaluation period."""

    start: float
    end: float
    arrival_rate: float
    response_time: float | None
    goal_met: bool
    revenue: float
    penalty: float
    cost: float

    @property
    def utility(self) -> float:
        """Revenue (or the penalty when the goal was missed) minus the server cost."""
        return self.revenue + self.penalty - self.cost


@attrs.frozen(kw_only=True)
class ServiceSummary:
    """The figures of one simulated service over a run."""

    entity: str
    duration_s: float
    requests: int
    served: int
    served_optional: int
    timeouts: int
    rejected: int
    unfinished: int
    optional_share: float | None
    late_share: float | None
    mean_response_time: float | None
    p95_response_time: float | None
    avg_servers: float
    utility: float
    revenue: float
    penalty: float
    cost: float
    periods: int
    periods_goal_missed: int
    actions: int
    actions_failed: int
    actions_by_effector: dict[str, int]
    server_changes: int
    dimmer_changes: int
    oscillations: int
    utility_params: dict[str, Any]
    period_utilities: tuple[PeriodUtility, ...] = attrs.field(repr=False)

    def to_json(self, *, periods: bool = True) -> dict[str, Any]:
        """Plain JSON (with each period's utility unless ``periods`` is false)."""
        out = attrs.asdict(self, recurse=True, filter=lambda a, _: a.name != "period_utilities")
        if periods:
            out["period_utilities"] = [{**attrs.asdict(p), "utility": p.utility} for p in self.period_utilities]
        return out


@attrs.frozen(kw_only=True)
class RunInfo:
    """How the run went (wall time varies between runs; everything else is fixed by the seed)."""

    wall_s: float
    rounds: int
    policy_errors: int
    requests_per_wall_s: float


@attrs.frozen(kw_only=True)
class Summary:
    """The summary of one ``autonomic simulate`` run."""

    blueprint: str
    trace: str
    seed: int
    duration_s: float
    services: tuple[ServiceSummary, ...]
    run: RunInfo

    def to_json(self, *, timing: bool = True) -> dict[str, Any]:
        """Plain JSON; without ``timing`` it is the same for every run of the same inputs and seed."""
        out: dict[str, Any] = {
            "blueprint": self.blueprint,
            "trace": self.trace,
            "seed": self.seed,
            "duration_s": self.duration_s,
            "services": [s.to_json() for s in self.services],
        }
        if timing:
            out["run"] = attrs.asdict(self.run)
        return out

    def to_markdown(self) -> str:
        """A Markdown report: the figures of each service in a table."""
        lines = [
            f"# Simulation of {self.blueprint}",
            "",
            f"Trace `{self.trace}`, seed {self.seed}, {self.duration_s:g} s simulated "
            f"in {self.run.wall_s:.2f} s of wall time ({self.run.requests_per_wall_s:,.0f} requests/s); "
            f"{self.run.rounds} manager rounds, {self.run.policy_errors} policy errors.",
            "",
            comparison_table([(s.entity, s) for s in self.services]),
            "",
        ]
        return "\n".join(lines)


def oscillations(changes: Iterable[tuple[float, int]]) -> int:
    """Direction changes of the server count: how often a change goes the other way than the one before."""
    count = 0
    last = 0
    for _, change in changes:
        if change == 0:
            continue
        sign = 1 if change > 0 else -1
        if last and sign != last:
            count += 1
        last = sign
    return count


def period_utilities(record: ServiceRecord, utility: Utility, kappa: float) -> list[PeriodUtility]:
    """The utility of each evaluation period (the last one may be shorter)."""
    per = max(1, round(utility.period_s / record.bucket_s))
    out: list[PeriodUtility] = []
    n = record.buckets
    for lo in range(0, n, per):
        hi = min(n, lo + per)
        tau = (hi - lo) * record.bucket_s
        arrivals = sum(record.arrivals[lo:hi])
        served = sum(record.served[lo:hi])
        optional = sum(record.served_optional[lo:hi])
        finished = served + sum(record.timeouts[lo:hi])
        rt = math.fsum(record.rt_sum[lo:hi]) / finished if finished else None
        rate = arrivals / tau
        met = rt is None or rt <= utility.rt_goal_s
        if met:
            revenue = optional * utility.revenue_optional + (served - optional) * utility.revenue_basic
            penalty = 0.0
        else:
            revenue = 0.0
            r_o = utility.revenue_optional
            penalty = tau * min(0.0, rate * r_o - utility.penalty_multiplier * kappa * r_o)
        cost = utility.cost_per_server_s * math.fsum(record.server_s[lo:hi])
        out.append(
            PeriodUtility(
                start=lo * record.bucket_s,
                end=hi * record.bucket_s,
                arrival_rate=rate,
                response_time=rt,
                goal_met=met,
                revenue=revenue,
                penalty=penalty,
                cost=cost,
            )
        )
    return out


def summarize(service: SimWebService, actions: Sequence[ActionRecord]) -> ServiceSummary:
    """The figures of ``service`` after a run, with the journaled ``actions`` that targeted it."""
    cfg = service.config
    model = service.model
    if model is None:
        raise RuntimeError(f"{service.id} never started")
    record = model.record
    utility: Utility = cfg.utility
    kappa = utility.kappa(cfg.max_servers, cfg.service_time)
    periods = period_utilities(record, utility, kappa)
    duration = record.buckets * record.bucket_s
    requests = sum(record.arrivals)
    served = sum(record.served)
    optional = sum(record.served_optional)
    timeouts = sum(record.timeouts)
    rejected = sum(record.rejected)
    late = sum(record.late)
    finished = served + timeouts
    ordered = sorted(record.response_times)
    mine = [a for a in actions if a.target == service.id]
    ok = [a for a in mine if a.status is ActionStatus.OK]
    failed = [a for a in mine if a.status in (ActionStatus.ERROR, ActionStatus.TIMEOUT)]
    params = attrs.asdict(utility)
    params["max_throughput_rps"] = kappa
    return ServiceSummary(
        entity=service.id,
        duration_s=duration,
        requests=requests,
        served=served,
        served_optional=optional,
        timeouts=timeouts,
        rejected=rejected,
        unfinished=requests - finished - rejected,
        optional_share=optional / served if served else None,
        late_share=(late + rejected) / (finished + rejected) if finished + rejected else None,
        mean_response_time=math.fsum(record.rt_sum) / finished if finished else None,
        p95_response_time=nearest_rank(ordered, 0.95) if ordered else None,
        avg_servers=math.fsum(record.server_s) / duration if duration else 0.0,
        utility=math.fsum(p.utility for p in periods),
        revenue=math.fsum(p.revenue for p in periods),
        penalty=math.fsum(p.penalty for p in periods),
        cost=math.fsum(p.cost for p in periods),
        periods=len(periods),
        periods_goal_missed=sum(1 for p in periods if not p.goal_met),
        actions=len(ok),
        actions_failed=len(failed),
        actions_by_effector=dict(sorted(Counter(a.effector for a in ok).items())),
        server_changes=len(record.server_changes),
        dimmer_changes=len(record.dimmer_changes),
        oscillations=oscillations(record.server_changes),
        utility_params=params,
        period_utilities=tuple(periods),
    )


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "int":
        return f"{value:,}"
    if kind == "pct":
        return f"{100 * value:.2f} %"
    if kind == "s":
        return f"{value:.3f} s"
    if kind == "money":
        return f"{value:,.0f}"
    if kind == "dict":
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
    return f"{value:.2f}"


_ROWS: tuple[tuple[str, str, str], ...] = (
    ("utility", "utility", "money"),
    ("revenue", "revenue", "money"),
    ("penalty (goal missed)", "penalty", "money"),
    ("server cost", "cost", "money"),
    ("periods with the goal missed", "periods_goal_missed", "int"),
    ("requests", "requests", "int"),
    ("late responses (slower than the goal, timed out or rejected)", "late_share", "pct"),
    ("served with optional content", "optional_share", "pct"),
    ("timeouts", "timeouts", "int"),
    ("mean response time", "mean_response_time", "s"),
    ("p95 response time", "p95_response_time", "s"),
    ("average servers", "avg_servers", "num"),
    ("actions", "actions", "int"),
    ("actions by effector", "actions_by_effector", "dict"),
    ("failed actions", "actions_failed", "int"),
    ("oscillations (server count direction changes)", "oscillations", "int"),
)


def comparison_table(columns: Sequence[tuple[str, ServiceSummary]]) -> str:
    """A Markdown table: one row per figure, one column per (label, summary)."""
    head = ["figure", *(label for label, _ in columns)]
    rows = [[name, *(_fmt(getattr(s, attr), kind) for _, s in columns)] for name, attr, kind in _ROWS]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(r: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(r) for r in rows)])
