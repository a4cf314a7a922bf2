"""HttpServiceEntity: health and latency of an HTTP endpoint, from probes."""

from __future__ import annotations

from typing import Any

import anyio
import attrs

from autonomic.entities._probe import (
    HostedEntity,
    HttpProbe,
    ProbeResult,
    ProbeSensors,
    ProbeSettings,
    check_probe_settings,
    check_url,
)
from autonomic.errors import ConfigError

__all__ = ["HttpServiceEntity"]


class HttpServiceEntity(HostedEntity, ProbeSensors, type_name="http-service"):
    """An HTTP endpoint the supervisor does not run, only watches.

    Each probe is a GET of ``url`` that must answer one of ``expect_status``
    within ``timeout_s``. The entity is up and ready while the probes are
    healthy (see :class:`~autonomic.entities._probe.HealthTracker`: unhealthy
    until ``success_threshold`` successes in a row, unhealthy again after
    ``failure_threshold`` failures in a row, 3 by default); otherwise it is
    not up, and ``not_up_reasons["probe"]`` says why: ``connection refused``,
    ``timeout after 2 s``, ``status 503``.

    Probes run when the monitor polls, at ``start``, through :meth:`check`, and
    every ``interval_s`` in a background loop when the entity has a home for
    it (a runtime, or ``async with entity.hosted():``), so an unmanaged entity
    stays current too. The lifecycle is that of the watching: ``running``
    while probing, whatever the endpoint says.
    """

    @attrs.frozen(kw_only=True)
    class Config(ProbeSettings):
        """The URL, and how it is probed."""

        url: str

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        problems = check_url(self.config.url, "config.url") + check_probe_settings(self.config, "config.")
        if problems:
            raise ConfigError(f"{self.type_name}: " + "; ".join(problems))
        self._probe: HttpProbe | None = None
        self._loop_scope: anyio.CancelScope | None = None
        self._loop_done: anyio.Event | None = None

    async def on_start(self) -> None:
        """Probe once (so up and ready are known when start returns), then keep probing in the background."""
        self._probe = HttpProbe(url=self.config.url, settings=self.config)
        await self.check()
        if self.config.interval_s <= 0:
            return
        if not self.can_run_background:
            self.log.debug("probe_loop_off", reason="no runtime or hosted() block; probing when polled")
            return
        self._loop_scope = anyio.CancelScope()
        self._loop_done = anyio.Event()
        self.start_background(self._probe_loop, self._loop_scope, self._loop_done, name="probe")

    async def on_stop(self) -> None:
        """Stop the probe loop and release the HTTP client."""
        scope, done = self._loop_scope, self._loop_done
        self._loop_scope = self._loop_done = None
        if scope is not None and done is not None:
            scope.cancel()
            # Wait for the loop to let go of the client before closing it (bounded: never hang a stop).
            with anyio.move_on_after(self.config.timeout_s + 1.0):
                await done.wait()
        probe, self._probe = self._probe, None
        if probe is not None:
            await probe.aclose()

    @property
    def probing(self) -> bool:
        """Whether the entity is started and probing."""
        return self._probe is not None

    async def poll(self) -> None:
        """Probe now, so each round sees a fresh answer."""
        if self._probe is not None:
            await self.check()

    async def check(self) -> ProbeResult:
        """Probe once now; publish the result and update up, ready and the not-up reason."""
        probe = self._probe
        if probe is None:
            raise RuntimeError(f"{self.id} is not started")
        result = await probe.check()
        if probe is not self._probe:
            return result  # stopped while probing: the answer no longer matters
        probe.publish(self, result)
        tracker = probe.tracker
        if tracker.healthy:
            self.clear_not_up("probe")
        else:
            self.set_not_up("probe", tracker.reason or "unhealthy")
        self.set_ready(tracker.healthy)
        return result

    async def _probe_loop(self, scope: anyio.CancelScope, done: anyio.Event) -> None:
        try:
            with scope:
                while True:
                    await self.clock.sleep(self.config.interval_s)
                    if not self.probing:
                        break
                    try:
                        await self.check()
                    except Exception as exc:  # a background loop must never take the runtime down
                        self.report_problem(f"probe failed: {type(exc).__name__}: {exc}")
        finally:
            done.set()
