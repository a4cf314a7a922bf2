"""What the API's handlers work with: the runtime, Knowledge, metrics, tokens, authorization, events."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import structlog
from prometheus_client import CollectorRegistry

from autonomic.api.auth import TokenSet, load_tokens
from autonomic.api.authz import Authorizer, load_authorizer
from autonomic.api.events import EventBus
from autonomic.api.metrics import SensorCollector
from autonomic.knowledge.knowledge import Knowledge
from autonomic.observability import Metrics
from autonomic.runtime import Runtime

__all__ = ["DEFAULT_MAX_BODY", "ApiContext", "build_context"]

#: request bodies above this many bytes are refused with a 413
DEFAULT_MAX_BODY = 64 * 1024


def _knowledge_of(ctx: ApiContext) -> Knowledge:
    return ctx.runtime.knowledge


@attrs.define(eq=False)
class ApiContext:
    """The API's view of one supervisor. Build it with :func:`build_context` (or directly in tests)."""

    runtime: Runtime
    metrics: Metrics
    tokens: TokenSet
    authorizer: Authorizer
    knowledge: Knowledge = attrs.field(default=attrs.Factory(_knowledge_of, takes_self=True))
    bus: EventBus = attrs.field(factory=EventBus)
    max_body: int = DEFAULT_MAX_BODY
    #: serve ``/metrics`` without a token (for a Prometheus that cannot send one)
    public_metrics: bool = False
    #: seconds between keep-alive comments on the event stream
    heartbeat_s: float = 15.0
    started: float = attrs.field(factory=time.time)
    log: Any = attrs.field(factory=lambda: structlog.get_logger("autonomic.api"))
    #: exported entity sensors, collected on each scrape (kept apart from the supervisor's registry)
    sensor_registry: CollectorRegistry = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.sensor_registry = CollectorRegistry(auto_describe=False)
        self.sensor_registry.register(SensorCollector(lambda: self.runtime.root))
        self.bus.attach(self.runtime)


def build_context(
    runtime: Runtime,
    metrics: Metrics,
    *,
    tokens_file: str | Path | None = None,
    authz: Sequence[str | Path] = (),
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    public_metrics: bool = False,
) -> ApiContext:
    """The API context of a supervisor, from its blueprint's ``api`` settings.

    ``tokens_file`` and ``authz`` paths are relative to ``base_dir`` (the
    blueprint's folder). Tokens also come from ``AUTONOMIC_API_TOKENS``.
    Raises :class:`~autonomic.api.errors.ApiConfigError` when there is no
    token or the authorization policy does not compile.
    """
    base = base_dir or Path.cwd()

    def resolve(p: str | Path) -> Path:
        path = Path(p)
        return path if path.is_absolute() else base / path

    tokens = load_tokens(resolve(tokens_file) if tokens_file is not None else None, environ)
    authorizer = load_authorizer([resolve(p) for p in authz], clock=runtime.clock)
    return ApiContext(
        runtime=runtime,
        metrics=metrics,
        tokens=tokens,
        authorizer=authorizer,
        max_body=max_body,
        public_metrics=public_metrics,
    )
