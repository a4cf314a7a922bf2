"""The sim-web-service entity in a runtime on the virtual clock: sensors, effectors, config, trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from autonomic.entities.swim import SimWebService
from autonomic.errors import ConfigError, PermanentEffectorError, TemporaryEffectorError
from autonomic.lifecycle import Lifecycle
from autonomic.simulate.trace import Trace, TraceFormat, write_trace
from autonomic.testing import managed

STEADY = [0.05 * i for i in range(1, 12_001)]  # 20 requests/s for 600 s


def service(**config: object) -> SimWebService:
    base: dict[str, object] = {
        "service_time": {"kind": "deterministic", "mean": 0.02},
        "basic_service_time": {"kind": "deterministic", "mean": 0.001},
        "window_s": 10,
        "boot_delay_s": 30,
        "max_servers": 3,
    }
    svc = SimWebService("web", {**base, **config})
    return svc


@pytest.mark.anyio
async def test_sensors_follow_the_load_over_the_window() -> None:
    svc = service()
    svc.use_arrivals(STEADY)
    async with managed(svc, {}) as h:
        await h.advance(5)
        assert svc.arrival_rate.value is None  # the first window is not full yet
        assert svc.servers.value == 1 and svc.dimmer.value == 1.0
        await h.advance(60)
        assert svc.arrival_rate.value == pytest.approx(20, abs=0.2)
        assert svc.throughput.value == pytest.approx(20, abs=0.2)
        # deterministic 20 ms at 20/s, evenly spaced: never two at once
        assert svc.response_time.value == pytest.approx(0.02)
        assert svc.response_time_p95.value == pytest.approx(0.02)
        assert svc.utilization.value == pytest.approx(0.4, abs=0.01)
        assert svc.optional_share.value == 1.0
        assert svc.late_share.value == 0.0 and svc.timeout_rate.value == 0.0
        assert svc.queue_length.value == 0
        assert svc.ready


@pytest.mark.anyio
async def test_levers_change_the_service() -> None:
    svc = service()
    svc.use_arrivals(STEADY)
    async with managed(svc, {}) as h:
        await h.advance(20)
        assert await svc.add_server() == "server-1"
        assert (svc.servers.value, svc.active_servers.value, svc.booting_servers.value) == (2, 1, 1)
        await h.advance(31)
        assert (svc.active_servers.value, svc.booting_servers.value) == (2, 0)
        await svc.set_dimmer(0.0)
        await h.advance(20)
        assert svc.dimmer.value == 0.0
        assert svc.optional_share.value == 0.0
        assert svc.response_time.value == pytest.approx(0.001)
        await svc.set_servers(3)
        assert svc.servers.value == 3
        await svc.set_servers(1)
        assert (svc.servers.value, svc.booting_servers.value) == (1, 0)
        with pytest.raises(PermanentEffectorError, match="minimum"):
            await svc.remove_server()
        changes = [r["change"] for r in h.runtime.knowledge.state("web").history("scale_events").records()]
        assert changes == [1, 1, -2]
        assert svc.record.server_changes[-1][1] == -2
        assert [v for _, v in svc.record.dimmer_changes] == [0.0]


@pytest.mark.anyio
async def test_lever_bounds_are_permanent_errors() -> None:
    svc = service(max_servers=2)
    svc.use_arrivals([])
    async with managed(svc, {}) as h:
        await h.advance(1)
        await svc.add_server()
        with pytest.raises(PermanentEffectorError, match="maximum"):
            await svc.add_server()
        with pytest.raises(PermanentEffectorError, match=r"within \[1, 2\]"):
            await svc.set_servers(5)
        with pytest.raises(PermanentEffectorError, match=r"dimmer must be in \[0, 1\]"):
            await svc.set_dimmer(1.5)


@pytest.mark.anyio
async def test_effectors_before_the_start_are_temporary_errors() -> None:
    svc = service()
    with pytest.raises(TemporaryEffectorError, match="not running"):
        await svc.add_server()


@pytest.mark.anyio
async def test_effectors_go_through_the_executor() -> None:
    svc = service()
    svc.use_arrivals(STEADY)
    async with managed(svc, {}) as h:
        await h.advance(1)
        rec = await h.runtime.invoke("web", "set_servers", {"count": 2}, actor="test")
        assert rec.status.value == "pending"
        await h.advance(1)
        assert svc.servers.value == 2
        assert [a.status.value for a in h.actions(effector="set_servers")] == ["ok"]


@pytest.mark.anyio
async def test_reads_its_trace_from_config(tmp_path: Path) -> None:
    path = tmp_path / "load.trace"
    write_trace(Trace(format=TraceFormat.RATE, values=(30.0, 30.0), interval_s=60), path)
    svc = service(trace=str(path), seed=5)
    async with managed(svc, {}) as h:
        await h.advance(100)
        assert svc.lifecycle.actual is Lifecycle.RUNNING
        assert svc.arrival_rate.value == pytest.approx(30, rel=0.25)


@pytest.mark.anyio
async def test_no_trace_is_a_failed_start() -> None:
    svc = service()
    async with managed(svc, {}) as h:
        await h.advance(1)
        assert svc.lifecycle.actual is Lifecycle.ON_FIRE


@pytest.mark.anyio
async def test_overload_times_out_and_is_late() -> None:
    svc = service(threads=2, timeout_s=2, service_time={"kind": "deterministic", "mean": 0.2})
    svc.use_arrivals(STEADY)  # 20/s of 0.2 s on one server: four times its capacity
    async with managed(svc, {}) as h:
        await h.advance(60)
        assert svc.timeout_rate.value is not None and svc.timeout_rate.value > 10
        assert svc.late_share.value is not None and svc.late_share.value > 0.7
        assert svc.queue_length.value is not None and svc.queue_length.value > 10
        assert svc.utilization.value == 1.0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"initial_servers": 4, "max_servers": 3}, "min_servers <= initial_servers <= max_servers"),
        ({"dimmer": 2.0}, r"dimmer must be in \[0, 1\]"),
        ({"threads": 0}, "threads must be >= 1"),
        ({"window_s": 0.5, "tick_s": 1}, "window_s"),
        ({"timeout_s": 0}, "timeout_s must be a positive"),
        ({"service_time": {"kind": "uniform"}}, "kind"),
        ({"trace_format": "csv"}, "trace_format"),
        ({"utility": {"rt_goal_s": -1}}, "rt_goal_s"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_config_is_checked(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimWebService("web", config)
