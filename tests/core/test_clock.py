"""The virtual clock: ordered wake-ups, timeouts, and fast long scenarios."""

from __future__ import annotations

import time

import anyio
import pytest

from autonomic import VirtualClock


@pytest.mark.anyio
async def test_sleepers_wake_in_time_order() -> None:
    clock = VirtualClock(start=100.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, s: float) -> None:
        await clock.sleep(s)
        woke.append((name, clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "b", 5)
        tg.start_soon(sleeper, "a", 2)
        tg.start_soon(sleeper, "c", 5.5)
        await clock.run(10)
    assert woke == [("a", 102.0), ("b", 105.0), ("c", 105.5)]
    assert clock.now() == 110.0


@pytest.mark.anyio
async def test_timeout_on_virtual_time() -> None:
    clock = VirtualClock()
    result: list[str] = []

    async def slow() -> None:
        try:
            async with clock.timeout(3):
                await clock.sleep(10)
        except TimeoutError:
            result.append(f"timeout at {clock.now()}")

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow)
        await clock.run(20)
    assert result == ["timeout at 3.0"]


@pytest.mark.anyio
async def test_ten_minutes_with_many_sleepers_take_well_under_a_second() -> None:
    clock = VirtualClock()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await clock.sleep(1)
            ticks += 1

    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(ticker)
        await clock.run(600)
        tg.cancel_scope.cancel()
    assert ticks == 20 * 600
    assert time.perf_counter() - t0 < 5  # a generous bound; the benchmark measures it properly


@pytest.mark.anyio
async def test_advance_by_hand_fires_due_callbacks() -> None:
    clock = VirtualClock()
    fired: list[float] = []
    clock.call_at(5, lambda: fired.append(clock.now()))
    clock.advance(4)
    assert fired == []
    clock.advance(2)
    assert fired == [5.0] and clock.now() == 6.0
