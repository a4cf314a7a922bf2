"""What the process and HTTP-service entities share: the HTTP probe, and a home for background tasks.

- :func:`probe_http` asks an endpoint once and turns every outcome into a
  :class:`ProbeResult` with a short reason (``connection refused``,
  ``timeout after 2 s``, ``status 503``); it never raises.
- :class:`HealthTracker` applies Kubernetes-style thresholds to a run of
  results: unhealthy until ``success_threshold`` consecutive successes,
  unhealthy again after ``failure_threshold`` consecutive failures.
- :class:`HttpProbe` binds one URL, its :class:`ProbeSettings`, a tracker and
  an HTTP client, and publishes the sensors declared by :class:`ProbeSensors`.
- :class:`HostedEntity` runs an entity's background tasks in its runtime's
  task group when attached, or in the task group of :meth:`HostedEntity.hosted`
  when used alone.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import attrs
import httpx

from autonomic.entity import Entity
from autonomic.sensor import Sensor

__all__ = [
    "HealthTracker",
    "HostedEntity",
    "HttpProbe",
    "ProbeResult",
    "ProbeSensors",
    "ProbeSettings",
    "check_probe_settings",
    "check_url",
    "probe_http",
]


@attrs.frozen(kw_only=True)
class ProbeSettings:
    """How often and how strictly an HTTP endpoint is probed.

    ``failure_threshold`` defaults to 3 (as Kubernetes probes do) so one lost
    probe does not take a healthy service down; ``success_threshold`` (1)
    successes in a row make an unhealthy one healthy again. An ``interval_s``
    of 0 turns the background probe loop off (probes then run only when the
    monitor polls).
    """

    interval_s: float = 5.0
    timeout_s: float = 2.0
    expect_status: list[int] = attrs.field(factory=lambda: [200])
    failure_threshold: int = 3
    success_threshold: int = 1


def check_probe_settings(settings: ProbeSettings, where: str) -> list[str]:
    """The problems of ``settings`` (each prefixed with ``where``), empty when valid."""
    problems = []
    if settings.interval_s < 0:
        problems.append(f"{where}interval_s must be >= 0 (0 turns the probe loop off), got {settings.interval_s:g}")
    if settings.timeout_s <= 0:
        problems.append(f"{where}timeout_s must be > 0, got {settings.timeout_s:g}")
    if not settings.expect_status:
        problems.append(f"{where}expect_status must list at least one status code")
    bad = [s for s in settings.expect_status if not 100 <= s <= 599]
    if bad:
        problems.append(f"{where}expect_status has codes outside 100-599: {bad}")
    if settings.failure_threshold < 1:
        problems.append(f"{where}failure_threshold must be >= 1, got {settings.failure_threshold}")
    if settings.success_threshold < 1:
        problems.append(f"{where}success_threshold must be >= 1, got {settings.success_threshold}")
    return problems


def check_url(url: str, where: str) -> list[str]:
    """The problems of an http(s) URL that may hold a ``{port}`` placeholder, empty when valid."""
    try:
        parsed = httpx.URL(url.replace("{port}", "1"))
    except (httpx.InvalidURL, TypeError) as exc:
        return [f"{where}: not a valid URL ({exc}): {url!r}"]
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return [f"{where}: expected an http:// or https:// URL with a host, got {url!r}"]
    return []


@attrs.frozen(kw_only=True)
class ProbeResult:
    """One probe's outcome: ``ok``, the status and latency when a response came, else why not."""

    ok: bool
    status_code: int | None = None
    #: seconds until the response headers arrived (None: no response)
    latency_s: float | None = None
    #: why the probe failed (None when ok)
    reason: str | None = None


def _describe(exc: BaseException) -> str:
    """A short reason for a failed request, found anywhere in the exception's chain."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, ConnectionResetError):
            return "connection reset"
        if isinstance(e, socket.gaierror):
            return f"name resolution failed ({e.strerror or e})"
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        stack.extend(x for x in (e.__cause__, e.__context__) if x is not None)
    text = str(exc)
    if "connection refused" in text.lower():
        return "connection refused"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def probe_http(
    client: httpx.AsyncClient, url: str, *, timeout_s: float, expect_status: list[int]
) -> ProbeResult:
    """GET ``url`` once, within ``timeout_s`` in all; every failure is a result, never an exception."""
    started = time.perf_counter()
    try:
        # httpx bounds each phase (connect, each read); the outer bound makes it a total.
        # Real time on purpose: a virtual clock cannot time real network I/O.
        with anyio.fail_after(timeout_s):
            # Streaming reads the status line and headers, never the body.
            async with client.stream("GET", url, timeout=timeout_s) as response:
                status = response.status_code
    except (TimeoutError, httpx.TimeoutException):
        return ProbeResult(ok=False, reason=f"timeout after {timeout_s:g} s")
    except Exception as exc:  # a probe reports every failure as its result
        return ProbeResult(ok=False, reason=_describe(exc))
    latency = time.perf_counter() - started
    if status not in expect_status:
        return ProbeResult(ok=False, status_code=status, latency_s=latency, reason=f"status {status}")
    return ProbeResult(ok=True, status_code=status, latency_s=latency)


@attrs.define
class HealthTracker:
    """Healthy or not from a run of probe results, with thresholds.

    It starts unhealthy ("not probed yet"), like a Kubernetes readiness
    probe: ``success_threshold`` successes in a row make it healthy, and
    ``failure_threshold`` failures in a row make a healthy one unhealthy.
    While unhealthy, ``reason`` says why.
    """

    failure_threshold: int = 3
    success_threshold: int = 1
    healthy: bool = False
    reason: str | None = "not probed yet"
    consecutive_failures: int = 0
    consecutive_successes: int = 0

    def record(self, result: ProbeResult) -> None:
        """Account for one result."""
        if result.ok:
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            if not self.healthy and self.consecutive_successes >= self.success_threshold:
                self.healthy = True
            if self.healthy:
                self.reason = None
            else:
                self.reason = (
                    f"waiting for {self.success_threshold} successful probes in a row "
                    f"({self.consecutive_successes} so far)"
                )
            return
        self.consecutive_failures += 1
        self.consecutive_successes = 0
        if self.healthy and self.consecutive_failures >= self.failure_threshold:
            self.healthy = False
        if not self.healthy:
            self.reason = result.reason


class ProbeSensors:
    """Sensor declarations of an HTTP probe; an entity class that mixes this in publishes them."""

    probe_ok = Sensor(bool, nullable=True, description="the last probe got an expected status")
    latency_s = Sensor(float, unit="s", nullable=True, description="time to the last probe's response headers")
    status_code = Sensor(int, nullable=True, description="HTTP status of the last probe (null: no response)")
    consecutive_failures = Sensor(int, nullable=True, description="probes failed in a row")


@attrs.define(eq=False)
class HttpProbe:
    """Probes one URL with one client and one :class:`HealthTracker`.

    Keep-alive is off so every probe opens a fresh connection, as a new
    client would: a server that stops accepting is seen at once. The client
    is created on the first :meth:`check` and released by :meth:`aclose`.
    """

    url: str
    settings: ProbeSettings
    tracker: HealthTracker = attrs.field(init=False)
    last: ProbeResult | None = attrs.field(init=False, default=None)
    _client: httpx.AsyncClient | None = attrs.field(init=False, default=None)
    _closed: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self.tracker = HealthTracker(
            failure_threshold=self.settings.failure_threshold, success_threshold=self.settings.success_threshold
        )

    async def check(self) -> ProbeResult:
        """Probe once and account for the result (a closed probe answers without probing)."""
        if self._closed:
            return ProbeResult(ok=False, reason="probe closed")
        if self._client is None:
            self._client = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
        result = await probe_http(
            self._client, self.url, timeout_s=self.settings.timeout_s, expect_status=self.settings.expect_status
        )
        self.tracker.record(result)
        self.last = result
        return result

    def publish(self, entity: Entity, result: ProbeResult) -> None:
        """Publish ``result`` on the :class:`ProbeSensors` of ``entity``."""
        entity.publish("probe_ok", result.ok)
        entity.publish("status_code", result.status_code)
        if result.latency_s is not None:
            entity.publish("latency_s", result.latency_s)
        else:
            # No response, so no latency: unknown, never a made-up number.
            entity.sensor("latency_s").mark_stale(result.reason or "no response")
        entity.publish("consecutive_failures", self.tracker.consecutive_failures)

    async def aclose(self) -> None:
        """Release the client; later checks answer "probe closed"."""
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


class HostedEntity(Entity):
    """An entity with background tasks (a process watcher, a probe loop).

    Attached to a runtime, the tasks run in the runtime's task group
    (:meth:`~autonomic.entity.Entity.spawn`). Used alone, there is no task
    group that outlives ``start``, so wrap the use in :meth:`hosted`::

        async with entity.hosted():
            await entity.start()
            ...  # the entity is stopped when the block ends

    Each task must end by itself when the entity stops (they watch a cancel
    scope or an event of the entity); the host only gives them a home.
    """

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        self._host_tg: anyio.abc.TaskGroup | None = None

    @property
    def can_run_background(self) -> bool:
        """Whether background tasks have a home (a runtime, or :meth:`hosted`)."""
        return self._host_tg is not None or self.attached

    def start_background(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str) -> None:
        """Run ``fn(*args)`` in the background; raises a clear error when there is no home for it."""
        if self._host_tg is not None:
            self._host_tg.start_soon(fn, *args, name=f"{self.id}:{name}")
        elif self.attached:
            self.spawn(fn, *args, name=name)
        else:
            raise RuntimeError(
                f"{self.id} ({self.type_name}) runs background tasks, so it needs a home for them: attach it to "
                f"a Runtime (Runtime.running()), or use it inside `async with entity.hosted():`"
            )

    @asynccontextmanager
    async def hosted(self) -> AsyncIterator[None]:
        """Host the entity's background tasks in this block (unattached use); stop the entity on exit."""
        if self.attached:
            raise RuntimeError(f"{self.id} is attached: its runtime hosts its background tasks")
        if self._host_tg is not None:
            raise RuntimeError(f"{self.id} is already hosted")
        async with anyio.create_task_group() as tg:
            self._host_tg = tg
            try:
                yield
            finally:
                # Stop even when the block is cancelled, so nothing outlives it.
                with anyio.CancelScope(shield=True):
                    try:
                        await self.stop()
                    finally:
                        self._host_tg = None
                        tg.cancel_scope.cancel()
