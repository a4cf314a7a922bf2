"""Every time read and sleep goes through a clock.

Two clocks implement one interface: :class:`SystemClock` (wall-clock seconds,
real sleeps) and :class:`VirtualClock` (scenario seconds that jump forward as
soon as every task is waiting on the clock), so a ten-minute scenario runs in
milliseconds and deterministically.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, runtime_checkable

import anyio
import attrs

__all__ = ["Clock", "SystemClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """What the framework needs from time."""

    @property
    def is_virtual(self) -> bool:
        """True when time does not pass by itself (tests, simulations)."""

    def now(self) -> float:
        """Seconds: Unix time on the system clock, scenario time on a virtual one."""

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time."""

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until ``now() >= deadline``."""

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[None]:
        """Raise :class:`TimeoutError` if the body outlives ``seconds`` of this clock."""


@attrs.define
class SystemClock:
    """The real clock: wall-clock ``now`` and anyio sleeps."""

    @property
    def is_virtual(self) -> bool:
        """The system clock is real."""
        return False

    def now(self) -> float:
        """Unix time in seconds."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        await anyio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until the wall clock reaches ``deadline``."""
        await anyio.sleep(max(0.0, deadline - time.time()))

    @asynccontextmanager
    async def timeout(self, seconds: float) -> AsyncIterator[None]:
        """``anyio.fail_after`` on the real clock."""
        with anyio.fail_after(seconds):
            yield


@attrs.define
class VirtualClock:
    """Scenario time that advances only when every task waits on the clock.

    Start :meth:`drive` in the task group that runs the scenario (or use
    :meth:`run`); it jumps ``now`` to the earliest pending deadline whenever the
    event loop has nothing else to run. Blocking work in threads does not
    count as waiting, so code under a virtual clock must not hand work to
    threads (the framework evaluates policies inline when the clock is virtual).
    """

    start: float = 0.0
    _now: float = attrs.field(init=False)
    _heap: list[tuple[float, int, Callable[[], None]]] = attrs.field(init=False, factory=list)
    _seq: itertools.count[int] = attrs.field(init=False, factory=itertools.count)
    _new_waiter: anyio.Event | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._now = self.start

    @property
    def is_virtual(self) -> bool:
        """A virtual clock never passes by itself."""
        return True

    def now(self) -> float:
        """Scenario seconds."""
        return self._now

    def call_at(self, deadline: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` (synchronously, in the driver) once ``now`` reaches ``deadline``."""
        heapq.heappush(self._heap, (deadline, next(self._seq), callback))
        if self._new_waiter is not None:
            self._new_waiter.set()

    async def sleep(self, seconds: float) -> None:
        """Wait for ``seconds`` of scenario time."""
        await self.sleep_until(self._now + max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        """Wait until scenario time reaches ``deadline``."""
        if deadline <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        self.call_at(deadline, event.set)
        await event.wait()

    @asynccontextmanager
    async def timeout(self, seconds: float) -> AsyncIterator[None]:
        """Cancel the body when ``seconds`` of scenario time have passed."""
        with anyio.CancelScope() as scope:
            self.call_at(self._now + max(0.0, seconds), scope.cancel)
            yield
        if scope.cancelled_caught:
            raise TimeoutError(f"timed out after {seconds:g} s (virtual clock)")

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (tests), firing every callback that falls due."""
        self._fire_until(self._now + seconds)

    def _fire_until(self, deadline: float) -> None:
        while self._heap and self._heap[0][0] <= deadline:
            when, _, callback = heapq.heappop(self._heap)
            self._now = max(self._now, when)
            callback()
        self._now = max(self._now, deadline)

    async def _settle(self) -> None:
        """Return once nothing but this task is runnable on the event loop."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)
        while True:
            for _ in range(4):
                await anyio.lowlevel.checkpoint()
            if ready is None:
                # No introspection on this loop: many yields approximate quiescence.
                for _ in range(200):
                    await anyio.lowlevel.checkpoint()
                return
            if not ready:
                return

    async def drive(self, until: float = math.inf) -> None:
        """Advance time whenever the loop is idle, until ``until`` (forever by default)."""
        while True:
            await self._settle()
            if not self._heap:
                if until != math.inf:
                    self._now = max(self._now, until)
                    return
                self._new_waiter = anyio.Event()
                await self._new_waiter.wait()
                self._new_waiter = None
                continue
            deadline = self._heap[0][0]
            if deadline > until:
                self._now = max(self._now, until)
                await self._settle()
                return
            self._fire_until(deadline)

    async def run(self, seconds: float) -> None:
        """Drive the clock for ``seconds`` of scenario time, then return."""
        await self.drive(self._now + seconds)
