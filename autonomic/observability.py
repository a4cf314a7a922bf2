"""Logging (structlog) and metrics (prometheus-client) for a supervisor.

Logging is configured once, by the CLI, never by the library. Metrics live in
one registry per supervisor, never the global one.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics", "configure_logging"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_EFFECTOR_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def configure_logging(*, json: bool | None = None, level: str = "info", stream: TextIO | None = None) -> None:
    """Configure structlog: JSON lines when not on a terminal (or when asked), console otherwise."""
    out = stream or sys.stderr
    if json is None:
        json = not out.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )


class Metrics:
    """The supervisor's Prometheus metrics, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.rounds = Counter("autonomic_rounds_total", "MAPE rounds run", ["trigger"], registry=r)
        self.round_duration = Histogram(
            "autonomic_round_duration_seconds", "Duration of a MAPE round", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.decisions = Counter(
            "autonomic_decisions_total",
            "Decisions by outcome (noop, actions, policy_error, invalid)",
            ["outcome"],
            registry=r,
        )
        self.actions = Counter(
            "autonomic_actions_total", "Actions by effector and outcome", ["effector", "outcome"], registry=r
        )
        self.effector_duration = Histogram(
            "autonomic_effector_duration_seconds",
            "Duration of effector calls",
            ["effector"],
            buckets=_EFFECTOR_BUCKETS,
            registry=r,
        )
        self.policy_duration = Histogram(
            "autonomic_policy_evaluation_seconds",
            "Duration of one policy evaluation (all bound packages)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.policy_errors = Counter(
            "autonomic_policy_errors_total", "Policy errors by kind (policy, decision)", ["kind"], registry=r
        )
        self.loop_lag = Histogram(
            "autonomic_loop_lag_seconds",
            "How late a round started after it was due",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.managers = Gauge("autonomic_managers", "Running managers", registry=r)
        self.entities = Gauge("autonomic_entities", "Entities in the tree", registry=r)
