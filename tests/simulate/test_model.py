"""The request-level model of the simulated web service, on small cases worked out by hand.

Service times are deterministic (1 s with optional content, 0.5 s without),
so every completion time below follows from processor sharing: n requests in
service each get 1/n of the CPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autonomic.entities.swim import ServiceTime, WebServiceModel, nearest_rank

SETTINGS = settings(derandomize=True, max_examples=120, deadline=None, database=None)


def make(
    arrivals: Sequence[float],
    *,
    threads: int = 100,
    timeout: float = 100.0,
    boot: float = 0.0,
    servers: int = 1,
    dimmer: float = 1.0,
    bucket: float = 1.0,
    window: float = 1.0,
    goal: float = 1.2,
    optional_s: float = 1.0,
    basic_s: float = 0.5,
) -> WebServiceModel:
    return WebServiceModel(
        arrivals=list(arrivals),
        start=0.0,
        initial_servers=servers,
        threads=threads,
        timeout_s=timeout,
        boot_delay_s=boot,
        dimmer=dimmer,
        service_time=ServiceTime(kind="deterministic", mean=optional_s),
        basic_service_time=ServiceTime(kind="deterministic", mean=basic_s),
        rt_goal_s=goal,
        bucket_s=bucket,
        window_s=window,
        seed=0,
    )


def rts(m: WebServiceModel) -> list[float]:
    return [round(x, 9) for x in m.record.response_times]


def test_two_requests_share_the_cpu() -> None:
    # A alone for 0.5 s (0.5 done), then A and B at half speed: A ends at 1.5, B (0.5 done) at 2.0.
    m = make([0.0, 0.5])
    m.advance(1.49)
    assert m.record.response_times.tolist() == []
    assert m.in_service == 2
    m.advance(3.0)
    assert rts(m) == [1.5, 1.5]
    assert m.record.served == [0, 1, 1]


def test_a_short_request_overtakes_a_long_one() -> None:
    # A (1 s of work) at 0; the dimmer drops to 0, so B at 0.2 needs 0.5 s.
    # Shared from 0.2: B ends after 1.0 s at 1.2 (A has 0.3 left), A ends alone at 1.5.
    m = make([0.0, 0.2])
    m.advance(0.1)
    m.set_dimmer(0.1, 0.0)
    m.advance(5.0)
    assert rts(m) == [1.0, 1.5]
    assert m.record.served_optional == [0, 1, 0, 0, 0]


def test_three_requests_at_once() -> None:
    # All share: each gets 1/3 of the CPU, all end at 3.0.
    m = make([0.0, 0.0, 0.0])
    m.advance(4.0)
    assert rts(m) == [3.0, 3.0, 3.0]


def test_the_thread_limit_queues_the_rest_fifo() -> None:
    # One thread: A 0-1, B waits from 0.5 and is served 1-2.
    m = make([0.0, 0.5], threads=1)
    m.advance(0.75)
    assert (m.in_service, m.queue_length) == (1, 1)
    m.advance(3.0)
    assert rts(m) == [1.0, 1.5]

    # Two threads, three requests: A and B share until 2.0, C then runs alone until 3.0.
    m = make([0.0, 0.0, 0.0], threads=2)
    m.advance(4.0)
    assert rts(m) == [2.0, 2.0, 3.0]


def test_requests_that_wait_too_long_time_out() -> None:
    # One thread busy 0-1; B and C wait from 0.1 and 0.2 and time out at 0.5 and 0.6.
    m = make([0.0, 0.1, 0.2], threads=1, timeout=0.4, goal=10)
    m.advance(0.55)
    assert m.queue_length == 1
    m.advance(3.0)
    rec = m.record
    assert rec.timeouts == [2, 0, 0]
    assert rec.served == [0, 1, 0]
    # a timed-out request counts with the time its client waited, and is late whatever the goal
    assert rts(m) == [0.4, 0.4, 1.0]
    assert rec.late == [2, 0, 0]
    assert rec.rt_sum[0] == pytest.approx(0.8)


def test_a_queued_request_served_before_its_timeout_does_not_time_out() -> None:
    m = make([0.0, 0.5], threads=1, timeout=0.6)
    m.advance(3.0)
    assert sum(m.record.timeouts) == 0
    assert rts(m) == [1.0, 1.5]


def test_a_new_server_boots_before_it_takes_requests() -> None:
    m = make([], servers=1, boot=5.0)
    m.add_server(0.0)
    assert (m.servers, m.n_active, m.n_booting) == (2, 1, 1)
    m.advance(7.0)
    assert m.record.active == [1, 1, 1, 1, 1, 2, 2]
    assert m.record.booting == [1, 1, 1, 1, 1, 0, 0]
    # a booting server costs from the start
    assert m.record.server_s == [2.0] * 7


def test_requests_go_round_robin_to_active_servers_only() -> None:
    # Server 1 boots until 2.5: the two requests at 1 share server 0 (both end at 3);
    # the two at 3 go one to each server and run alone (both end at 4).
    m = make([1.0, 1.0, 3.0, 3.0], servers=1, boot=2.5)
    m.add_server(0.0)
    m.advance(10.0)
    assert rts(m) == [2.0, 2.0, 1.0, 1.0]
    assert m.record.served[:5] == [0, 0, 0, 2, 2]


def test_no_active_server_rejects_requests() -> None:
    m = make([1.0, 3.0], servers=0, boot=2.0)
    m.add_server(0.0)
    m.advance(5.0)
    assert m.record.rejected == [0, 1, 0, 0, 0]
    assert rts(m) == [1.0]


def test_a_removed_server_drains_what_it_holds() -> None:
    # Two servers; A -> s0 at 0, B -> s1 at 0.1; s1 is removed at 0.2 and drains B (ends 1.1);
    # C at 0.3 goes to s0 and shares it with A: A ends at 1.7, C at 2.0.
    m = make([0.0, 0.1, 0.3], servers=2)
    m.advance(0.2)
    m.remove_server(0.2)
    assert (m.servers, m.n_active, m.n_draining) == (1, 1, 1)
    m.advance(1.0)
    assert m.n_draining == 1
    m.advance(3.0)
    assert m.n_draining == 0 and len(m.servers_all) == 1
    assert rts(m) == [1.0, 1.7, 1.7]
    assert m.record.server_s[:2] == [2.0, pytest.approx(1.1)]


def test_removing_a_booting_server_cancels_its_boot() -> None:
    m = make([], servers=1, boot=10.0)
    m.add_server(0.0)
    m.remove_server(2.0)
    m.advance(20.0)
    assert (m.servers, m.n_active, m.n_booting) == (1, 1, 0)
    assert m.record.active[-1] == 1
    assert sum(m.record.server_s) == pytest.approx(20.0 + 2.0)


def test_an_idle_server_removed_leaves_at_once() -> None:
    m = make([], servers=2)
    m.remove_server(1.0)
    assert (m.n_active, m.n_draining, len(m.servers_all)) == (1, 0, 1)
    m.remove_server(1.0)
    assert (m.n_active, len(m.servers_all)) == (0, 0)
    with pytest.raises(ValueError, match="no server"):
        m.remove_server(1.0)


@pytest.mark.parametrize(("dimmer", "low", "high"), [(0.0, 0, 0), (1.0, 2000, 2000), (0.3, 520, 680)])
def test_the_dimmer_is_the_share_of_requests_with_optional_content(dimmer: float, low: int, high: int) -> None:
    m = make([0.25 * i for i in range(2000)], dimmer=dimmer, optional_s=0.01, basic_s=0.001, window=10)
    m.advance(600)
    optional = sum(m.record.served_optional)
    assert sum(m.record.served) == 2000
    assert low <= optional <= high


def test_window_figures_are_unknown_until_the_window_is_full() -> None:
    m = make([0.0], window=2.0, goal=0.9)
    m.advance(1.0)
    w = m.window()
    assert w.arrival_rate is None and w.utilization is None and w.response_time is None
    m.advance(2.0)
    w = m.window()
    assert w.arrival_rate == 0.5 and w.throughput == 0.5
    assert w.utilization == 0.5  # busy 1 s of 2
    assert w.response_time == 1.0 and w.response_time_p95 == 1.0
    assert w.late_share == 1.0  # 1 s is over the 0.9 s goal
    assert w.optional_share == 1.0 and w.timeout_rate == 0.0
    m.advance(4.0)
    w = m.window()
    assert w.arrival_rate == 0.0 and w.utilization == 0.0
    assert w.response_time is None and w.late_share is None and w.optional_share is None


def test_nearest_rank() -> None:
    values = [float(i) for i in range(1, 21)]
    assert nearest_rank(values, 0.95) == 19.0
    assert nearest_rank(values, 1.0) == 20.0
    assert nearest_rank([3.0], 0.95) == 3.0


def test_sampled_service_times_have_their_means() -> None:
    import random

    for kind, cv in (("exponential", 1.0), ("lognormal", 0.5), ("lognormal", 2.0), ("deterministic", 0.0)):
        draw = ServiceTime(kind=kind, mean=0.03, cv=cv).sampler(random.Random(1))
        xs = [draw() for _ in range(40_000)]
        assert sum(xs) / len(xs) == pytest.approx(0.03, rel=0.05), kind
    with pytest.raises(ValueError, match="kind"):
        ServiceTime(kind="pareto")
    with pytest.raises(ValueError, match="mean must be a positive"):
        ServiceTime(mean=0)


gaps = st.lists(
    st.floats(min_value=0, max_value=3, allow_nan=False).map(lambda x: round(x, 3)), min_size=1, max_size=40
)


@SETTINGS
@given(gaps=gaps, service=st.sampled_from([0.25, 0.5, 1.0]))
def test_one_thread_is_fifo_lindley(gaps: list[float], service: float) -> None:
    arrivals = list(itertools.accumulate(gaps))
    m = make(arrivals, threads=1, optional_s=service)
    m.advance(arrivals[-1] + service * len(arrivals) + 1)
    expected = []
    free = 0.0
    for a in arrivals:
        start = max(free, a)
        free = start + service
        expected.append(round(free - a, 6))
    assert [round(x, 6) for x in m.record.response_times] == expected


@SETTINGS
@given(gaps=gaps, service=st.sampled_from([0.25, 0.5, 1.0]), threads=st.sampled_from([1, 2, 3, 100]))
def test_processor_sharing_conserves_work(gaps: list[float], service: float, threads: int) -> None:
    # Whatever the thread limit, the server is busy exactly as long as FIFO would be (work
    # conservation), every request takes at least its own work, and all of them finish.
    arrivals = list(itertools.accumulate(gaps))
    m = make(arrivals, threads=threads, optional_s=service)
    end = arrivals[-1] + service * len(arrivals) + 1
    m.advance(end)
    assert sum(m.record.served) == len(arrivals)
    assert sum(m.record.busy_s) == pytest.approx(service * len(arrivals))
    assert min(m.record.response_times) >= service - 1e-9
    # the last completion is FIFO's makespan
    free = 0.0
    for a in arrivals:
        free = max(free, a) + service
    last_busy = max(i for i, b in enumerate(m.record.busy_s) if b > 1e-9)
    assert last_busy == int((free - 1e-9) // 1.0)
    # PS with equal work finishes in arrival order, so the sum of response times is FIFO's
    # only with one thread; with more it is never smaller than the sum of the work
    assert sum(m.record.response_times) >= service * len(arrivals) - 1e-6
