"""A simulated web service in the spirit of SWIM (Moreno et al., SEAMS 2018), as an ordinary entity.

Requests arrive as a trace says (see :mod:`autonomic.simulate.trace`), are
dispatched round-robin to the active servers, and are served by each server
as a processor-sharing (PS) server with a thread limit in front of a FIFO
queue: at most ``threads`` requests share the CPU equally, the rest wait, and
a request that waited ``timeout_s`` in the queue times out. Each request is
served with its optional content with probability ``dimmer`` (the brownout
lever), which decides its service time distribution. Added servers boot for
``boot_delay_s`` before they take requests; a removed server takes no new
requests and leaves once it has served what it holds.

The request-level simulation is discrete-event and runs inside the entity
(:class:`WebServiceModel`): no task per request. A background task wakes on
the clock every ``sample_s``, processes every event up to then in a tight
loop (a heap of server events, the trace as a sorted array), and publishes
the sensors; ``poll`` (before every manager round) and the effectors bring
the model up to the clock's now first, so policies always see and change the
present. Between events each
server's state is advanced analytically: with ``n`` requests in service every
one of them progresses at ``1/n`` (a per-server virtual time, as in PS
simulators), so the next completion is known without stepping.

Sensors are over a sliding window of ``window_s`` (made of ``tick_s``
buckets); the buckets are kept in :attr:`SimWebService.record` for summaries
and plots.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import attrs

from autonomic.effector import effector
from autonomic.entity import Entity
from autonomic.errors import PermanentEffectorError, TemporaryEffectorError
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor

__all__ = ["ServiceRecord", "ServiceTime", "SimWebService", "Utility", "WebServiceModel"]

_KINDS = ("exponential", "deterministic", "lognormal")
_COMPLETE = 0
_BOOT = 1
_BOOTING = "booting"
_ACTIVE = "active"
_DRAINING = "draining"


def _positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive number, got {value!r}")


def _non_negative(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a number >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class ServiceTime:
    """A service time distribution: ``exponential``, ``deterministic`` or ``lognormal`` with a mean and a cv.

    ``cv`` (standard deviation over mean) is used by ``lognormal`` only; an
    exponential's cv is 1 and a deterministic one's 0.
    """

    kind: str = attrs.field(default="exponential", validator=attrs.validators.in_(_KINDS))
    mean: float = attrs.field(default=0.03, validator=_positive)
    cv: float = attrs.field(default=1.0, validator=_non_negative)

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """A function drawing one service time (seconds) from ``rng``."""
        mean = self.mean
        if self.kind == "deterministic" or (self.kind == "lognormal" and self.cv == 0):
            return lambda: mean
        if self.kind == "exponential":
            rate = 1.0 / mean
            expo = rng.expovariate
            return lambda: expo(rate)
        sigma = math.sqrt(math.log1p(self.cv * self.cv))
        mu = math.log(mean) - sigma * sigma / 2
        # exp of a gauss draw is the log-normal; random.gauss is several times faster than lognormvariate.
        gauss = rng.gauss
        exp = math.exp
        return lambda: exp(mu + sigma * gauss(0.0, 1.0))


@attrs.frozen(kw_only=True)
class Utility:
    """The utility function of the service, SWIM's shape (see docs/simulation.md).

    Per evaluation period of ``period_s`` seconds, with ``a`` the arrival rate
    and ``r`` the mean response time of the requests that finished in it:

    - if ``r <= rt_goal_s``: revenue ``revenue_optional`` per request served
      with optional content plus ``revenue_basic`` per request served without;
    - otherwise a penalty ``period_s * min(0, a * revenue_optional -
      penalty_multiplier * max_throughput_rps * revenue_optional)``;
    - minus ``cost_per_server_s`` per server-second (booting and draining
      servers cost too).

    ``max_throughput_rps`` (SWIM's ``maxServers * maxServiceRate``) defaults to
    ``max_servers / service_time.mean``.
    """

    rt_goal_s: float = attrs.field(default=0.75, validator=_positive)
    revenue_optional: float = attrs.field(default=1.5, validator=_non_negative)
    revenue_basic: float = attrs.field(default=1.0, validator=_non_negative)
    cost_per_server_s: float = attrs.field(default=1.0, validator=_non_negative)
    penalty_multiplier: float = attrs.field(default=1.0, validator=_non_negative)
    max_throughput_rps: float | None = None
    period_s: float = attrs.field(default=60.0, validator=_positive)

    def kappa(self, max_servers: int, service_time: ServiceTime) -> float:
        """The maximum throughput the penalty is measured against (requests per second)."""
        if self.max_throughput_rps is not None:
            return self.max_throughput_rps
        return max_servers / service_time.mean


@attrs.define(eq=False)
class ServiceRecord:
    """What the simulation recorded, per bucket of ``bucket_s`` seconds from ``start``.

    Counts are of events inside the bucket; ``servers`` to ``queue`` are the
    state at the bucket's end. ``response_times`` holds every finished
    request's response time in completion order (a timed-out request counts
    with ``timeout_s``, the time its client waited for an error).
    """

    start: float
    bucket_s: float
    arrivals: list[int] = attrs.field(factory=list)
    served: list[int] = attrs.field(factory=list)
    served_optional: list[int] = attrs.field(factory=list)
    timeouts: list[int] = attrs.field(factory=list)
    rejected: list[int] = attrs.field(factory=list)
    late: list[int] = attrs.field(factory=list)
    rt_sum: list[float] = attrs.field(factory=list)
    server_s: list[float] = attrs.field(factory=list)
    serving_s: list[float] = attrs.field(factory=list)
    busy_s: list[float] = attrs.field(factory=list)
    servers: list[int] = attrs.field(factory=list)
    active: list[int] = attrs.field(factory=list)
    booting: list[int] = attrs.field(factory=list)
    dimmer: list[float] = attrs.field(factory=list)
    queue: list[int] = attrs.field(factory=list)
    response_times: array[float] = attrs.field(factory=lambda: array("d"))
    #: (time, signed change of the server count), one per effector call that changed it
    server_changes: list[tuple[float, int]] = attrs.field(factory=list)
    #: (time, new dimmer)
    dimmer_changes: list[tuple[float, float]] = attrs.field(factory=list)

    @property
    def buckets(self) -> int:
        """How many buckets are closed."""
        return len(self.arrivals)


class _Server:
    """One server's state: PS over ``jobs`` (a heap by virtual finish time) and a FIFO ``queue``."""

    __slots__ = ("jobs", "last", "n", "name", "queue", "state", "version", "vt")

    def __init__(self, name: str, state: str) -> None:
        self.name = name
        self.state = state
        self.n = 0  # requests in service (holding a thread)
        self.vt = 0.0  # virtual time: the work each request in service has received
        self.last = 0.0  # when vt was last brought up to date
        self.jobs: list[tuple[float, float, bool]] = []  # (virtual finish, arrival, optional)
        self.queue: deque[float] = deque()  # arrival times of waiting requests
        self.version = 0  # bumped whenever the server's pending event changes


@attrs.frozen(kw_only=True)
class WindowStats:
    """Sliding-window figures the sensors publish (``None`` when the window holds no such request)."""

    arrival_rate: float | None
    throughput: float | None
    response_time: float | None
    response_time_p95: float | None
    late_share: float | None
    optional_share: float | None
    timeout_rate: float | None
    utilization: float | None


class WebServiceModel:
    """The discrete-event model of the service: servers, queues, requests; no clock, no tasks.

    Time is passed in: :meth:`advance` processes every event up to a time;
    the other methods act at a time no earlier than the last one advanced to.
    """

    def __init__(
        self,
        *,
        arrivals: Sequence[float],
        start: float,
        initial_servers: int,
        threads: int,
        timeout_s: float,
        boot_delay_s: float,
        dimmer: float,
        service_time: ServiceTime,
        basic_service_time: ServiceTime,
        rt_goal_s: float,
        bucket_s: float,
        window_s: float,
        seed: int | str,
    ) -> None:
        self.threads = threads
        self.timeout_s = timeout_s
        self.boot_delay_s = boot_delay_s
        self.rt_goal_s = rt_goal_s
        self.dimmer = dimmer
        self.record = ServiceRecord(start=start, bucket_s=bucket_s)
        self._arrivals = arrivals
        self._next = 0
        self._t0 = start
        self._rng = random.Random(f"{seed}/service")
        self._random = self._rng.random
        self._sample_optional = service_time.sampler(self._rng)
        self._sample_basic = basic_service_time.sampler(self._rng)
        self._events: list[tuple[float, int, int, _Server, int]] = []
        self._seq = itertools.count()
        self._names = itertools.count()
        self.servers_all: list[_Server] = []  # running: booting, active and draining, oldest first
        self._dispatch: list[_Server] = []  # active, oldest first
        self._rr = 0
        self.n_active = 0
        self.n_booting = 0
        self.n_draining = 0
        self._n_busy = 0
        self._acct = start
        self.now = start
        # the open bucket's counters
        self._bucket_index = 0
        self._bucket_end = start + bucket_s
        self._zero_bucket()
        self._window = max(1, round(window_s / bucket_s))
        self._window_rts: deque[list[float]] = deque(maxlen=self._window)
        for _ in range(initial_servers):
            self._new_server(_ACTIVE)

    # -- state ---------------------------------------------------------------------------
    @property
    def servers(self) -> int:
        """Servers counted against the pool: active plus booting."""
        return self.n_active + self.n_booting

    @property
    def queue_length(self) -> int:
        """Requests waiting for a thread, over all servers."""
        return sum(len(s.queue) for s in self.servers_all)

    @property
    def in_service(self) -> int:
        """Requests holding a thread, over all servers."""
        return sum(s.n for s in self.servers_all)

    @property
    def pending_arrivals(self) -> int:
        """Requests of the trace that have not arrived yet."""
        return len(self._arrivals) - self._next

    def _zero_bucket(self) -> None:
        self._b_arrivals = 0
        self._b_served = 0
        self._b_optional = 0
        self._b_timeouts = 0
        self._b_rejected = 0
        self._b_late = 0
        self._b_rt_sum = 0.0
        self._b_server_s = 0.0
        self._b_serving_s = 0.0
        self._b_busy_s = 0.0
        self._b_rts: list[float] = []

    # -- the event loop --------------------------------------------------------------------
    def advance(self, until: float) -> None:
        """Process every event up to ``until`` (inclusive); close the buckets that ended by then."""
        events = self._events
        arrivals = self._arrivals
        n_arrivals = len(arrivals)
        t0 = self._t0
        i = self._next
        next_arrival = t0 + arrivals[i] if i < n_arrivals else math.inf
        heappop = heapq.heappop
        while True:
            t_event = events[0][0] if events else math.inf
            # On a tie the server event goes first: a request arriving as another completes finds its thread free.
            if next_arrival < t_event:
                t = next_arrival
                if t > until:
                    break
                if t >= self._bucket_end:
                    self._close_buckets(t)
                self._accrue(t)
                self._arrive(t)
                i += 1
                next_arrival = t0 + arrivals[i] if i < n_arrivals else math.inf
            else:
                t = t_event
                if t > until:
                    break
                if t >= self._bucket_end:
                    self._close_buckets(t)
                _, _, kind, srv, version = heappop(events)
                if version != srv.version:
                    continue  # superseded: the server's state changed after this was scheduled
                self._accrue(t)
                if kind == _COMPLETE:
                    self._complete(srv, t)
                else:
                    self._boot_done(srv, t)
        self._next = i
        if until >= self._bucket_end:
            self._close_buckets(until)
        if until > self.now:
            self._expire_all(until)
            self._accrue(until)
            self.now = until

    def _accrue(self, t: float) -> None:
        """Integrate the server counts up to ``t`` into the open bucket."""
        dt = t - self._acct
        if dt > 0:
            self._b_server_s += dt * (self.n_active + self.n_booting + self.n_draining)
            self._b_serving_s += dt * (self.n_active + self.n_draining)
            self._b_busy_s += dt * self._n_busy
            self._acct = t

    def _arrive(self, t: float) -> None:
        self._b_arrivals += 1
        dispatch = self._dispatch
        if not dispatch:
            self._b_rejected += 1
            return
        srv = dispatch[self._rr % len(dispatch)]
        self._rr += 1
        if srv.n < self.threads:
            # Invariant: a server's queue is empty whenever it has a free thread.
            if srv.n == 0:
                self._n_busy += 1
            self._admit(srv, t, t)
            self._schedule(srv)
        else:
            srv.queue.append(t)

    def _admit(self, srv: _Server, t: float, arrival: float) -> None:
        """Give a thread to a request that arrived at ``arrival``; draws its class and service time."""
        n = srv.n
        if n:
            srv.vt += (t - srv.last) / n
        srv.last = t
        optional = self._random() < self.dimmer
        work = self._sample_optional() if optional else self._sample_basic()
        heapq.heappush(srv.jobs, (srv.vt + work, arrival, optional))
        srv.n = n + 1

    def _schedule(self, srv: _Server) -> None:
        """(Re)schedule the server's next completion from its virtual time."""
        srv.version += 1
        if srv.n:
            done = srv.last + (srv.jobs[0][0] - srv.vt) * srv.n
            heapq.heappush(self._events, (max(done, srv.last), next(self._seq), _COMPLETE, srv, srv.version))

    def _complete(self, srv: _Server, t: float) -> None:
        finish, arrival, optional = heapq.heappop(srv.jobs)
        srv.vt = finish  # exact, so equal finish times complete together without drift
        srv.last = t
        srv.n -= 1
        rt = t - arrival
        self._b_served += 1
        if optional:
            self._b_optional += 1
        self._b_rt_sum += rt
        if rt > self.rt_goal_s:
            self._b_late += 1
        self._b_rts.append(rt)
        self.record.response_times.append(rt)
        if srv.queue:
            self._expire(srv, t)
            if srv.queue:
                self._admit(srv, t, srv.queue.popleft())
        if srv.n == 0:
            self._n_busy -= 1
            if srv.state == _DRAINING:
                self._retire(srv)
                return
        self._schedule(srv)

    def _expire(self, srv: _Server, t: float) -> None:
        """Time out the requests at the head of the queue that waited ``timeout_s`` by ``t``."""
        q = srv.queue
        limit = t - self.timeout_s
        timeout = self.timeout_s
        while q and q[0] <= limit:
            q.popleft()
            self._b_timeouts += 1
            self._b_late += 1
            self._b_rt_sum += timeout
            self._b_rts.append(timeout)
            self.record.response_times.append(timeout)
        if srv.state == _DRAINING and srv.n == 0 and not q:
            self._retire(srv)

    def _expire_all(self, t: float) -> None:
        for srv in list(self.servers_all):
            if srv.queue:
                self._expire(srv, t)

    def _boot_done(self, srv: _Server, t: float) -> None:
        srv.state = _ACTIVE
        srv.last = t
        srv.version += 1
        self.n_booting -= 1
        self.n_active += 1
        self._dispatch.append(srv)

    def _retire(self, srv: _Server) -> None:
        srv.state = "gone"
        srv.version += 1
        self.n_draining -= 1
        self.servers_all.remove(srv)

    def _close_buckets(self, t: float) -> None:
        """Close every bucket that ended by ``t`` (timeouts and server-seconds split at the boundary)."""
        rec = self.record
        while t >= self._bucket_end:
            end = self._bucket_end
            self._expire_all(end)
            self._accrue(end)
            rec.arrivals.append(self._b_arrivals)
            rec.served.append(self._b_served)
            rec.served_optional.append(self._b_optional)
            rec.timeouts.append(self._b_timeouts)
            rec.rejected.append(self._b_rejected)
            rec.late.append(self._b_late)
            rec.rt_sum.append(self._b_rt_sum)
            rec.server_s.append(self._b_server_s)
            rec.serving_s.append(self._b_serving_s)
            rec.busy_s.append(self._b_busy_s)
            rec.servers.append(self.n_active + self.n_booting)
            rec.active.append(self.n_active)
            rec.booting.append(self.n_booting)
            rec.dimmer.append(self.dimmer)
            rec.queue.append(self.queue_length)
            self._window_rts.append(self._b_rts)
            self._zero_bucket()
            self._bucket_index += 1
            # From the start each time, so bucket edges never drift.
            self._bucket_end = self._t0 + (self._bucket_index + 1) * rec.bucket_s

    # -- levers --------------------------------------------------------------------------
    def _new_server(self, state: str) -> _Server:
        srv = _Server(f"server-{next(self._names)}", state)
        srv.last = self.now
        self.servers_all.append(srv)
        if state == _ACTIVE:
            self.n_active += 1
            self._dispatch.append(srv)
        else:
            self.n_booting += 1
            srv.version += 1
            heapq.heappush(self._events, (self.now + self.boot_delay_s, next(self._seq), _BOOT, srv, srv.version))
        return srv

    def add_server(self, now: float) -> str:
        """Start a server at ``now``: it boots for ``boot_delay_s`` (active at once when that is 0)."""
        self.advance(now)
        srv = self._new_server(_BOOTING if self.boot_delay_s > 0 else _ACTIVE)
        return srv.name

    def remove_server(self, now: float) -> str:
        """Remove the newest server at ``now``: a booting one is cancelled, an active one drains.

        Raises ``ValueError`` when no server is active or booting.
        """
        self.advance(now)
        booting = [s for s in self.servers_all if s.state == _BOOTING]
        if booting:
            srv = booting[-1]
            srv.state = "gone"
            srv.version += 1  # cancels its boot event
            self.n_booting -= 1
            self.servers_all.remove(srv)
            return srv.name
        if not self._dispatch:
            raise ValueError("no server to remove")
        srv = self._dispatch.pop()
        srv.state = _DRAINING
        self.n_active -= 1
        self.n_draining += 1
        if srv.n == 0 and not srv.queue:
            self._retire(srv)
        return srv.name

    def set_dimmer(self, now: float, value: float) -> None:
        """From ``now`` on, requests given a thread carry optional content with probability ``value``."""
        self.advance(now)
        self.dimmer = value

    # -- figures ---------------------------------------------------------------------------
    def window(self) -> WindowStats:
        """Figures over the last ``window_s`` of closed buckets (all unknown until one window has passed)."""
        rec = self.record
        k = rec.buckets
        if k < self._window:
            # A figure over less than the window would not compare with the next one (a rate over one
            # second is mostly noise): nothing is known until the first window is full.
            return WindowStats(
                arrival_rate=None,
                throughput=None,
                response_time=None,
                response_time_p95=None,
                late_share=None,
                optional_share=None,
                timeout_rate=None,
                utilization=None,
            )
        lo = k - self._window
        span = self._window * rec.bucket_s
        arrivals = sum(rec.arrivals[lo:])
        served = sum(rec.served[lo:])
        optional = sum(rec.served_optional[lo:])
        timeouts = sum(rec.timeouts[lo:])
        rejected = sum(rec.rejected[lo:])
        late = sum(rec.late[lo:])
        rt_sum = sum(rec.rt_sum[lo:])
        serving = sum(rec.serving_s[lo:])
        busy = sum(rec.busy_s[lo:])
        finished = served + timeouts
        rts = sorted(itertools.chain.from_iterable(self._window_rts))
        return WindowStats(
            arrival_rate=arrivals / span,
            throughput=served / span,
            response_time=rt_sum / finished if finished else None,
            response_time_p95=nearest_rank(rts, 0.95) if rts else None,
            late_share=(late + rejected) / (finished + rejected) if finished + rejected else None,
            optional_share=optional / served if served else None,
            timeout_rate=timeouts / span,
            utilization=min(1.0, busy / serving) if serving > 0 else None,
        )


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 < q <= 1) of sorted values by nearest rank: the ceil(q*n)-th value."""
    k = max(1, math.ceil(q * len(ordered) - 1e-9))
    return ordered[min(len(ordered), k) - 1]


class SimWebService(Entity, type_name="sim-web-service"):
    """A SWIM-like web service: round-robin over PS servers, a brownout dimmer, servers that boot.

    Levers: ``set_dimmer``, ``add_server``, ``remove_server``, ``set_servers``.
    Every change of the server count is appended to the ``scale_events``
    history (``{"change": +/-n}``), as the cluster entity does.
    """

    @attrs.frozen(kw_only=True)
    class Config:
        """The workload, the servers, the request classes and the utility function."""

        #: trace file (absolute, or relative to the working directory); `autonomic simulate --trace` sets it
        trace: str = ""
        trace_format: str = attrs.field(
            default="auto", validator=attrs.validators.in_(("auto", "interarrival", "rate"))
        )
        #: seconds per value of a rate trace without an interval header
        rate_interval_s: float | None = None
        initial_servers: int = 1
        min_servers: int = 1
        max_servers: int = 3
        threads: int = 100
        timeout_s: float = attrs.field(default=10.0, validator=_positive)
        boot_delay_s: float = attrs.field(default=60.0, validator=_non_negative)
        dimmer: float = 1.0
        #: service time of a request served with its optional content
        service_time: ServiceTime = attrs.field(factory=lambda: ServiceTime(kind="lognormal", mean=0.03, cv=1.0))
        #: service time of a request served without it
        basic_service_time: ServiceTime = attrs.field(factory=lambda: ServiceTime(kind="lognormal", mean=0.001, cv=1.0))
        window_s: float = attrs.field(default=60.0, validator=_positive)
        #: resolution of the statistics (the window is made of buckets this long)
        tick_s: float = attrs.field(default=1.0, validator=_positive)
        #: how often the background task brings the model to now and publishes (poll and effectors do too)
        sample_s: float = attrs.field(default=5.0, validator=_positive)
        seed: int = 0
        utility: Utility = attrs.field(factory=Utility)
        #: settings of the autonomic.brownout policy (docs/simulation.md)
        brownout: dict[str, Any] = attrs.field(factory=dict)
        #: settings for other policies (the example reactive policy reads extra.reactive)
        extra: dict[str, Any] = attrs.field(factory=dict)

        def __attrs_post_init__(self) -> None:
            if not 0 <= self.min_servers <= self.initial_servers <= self.max_servers:
                raise ValueError(
                    "servers must satisfy 0 <= min_servers <= initial_servers <= max_servers, got "
                    f"{self.min_servers}, {self.initial_servers}, {self.max_servers}"
                )
            if self.threads < 1:
                raise ValueError(f"threads must be >= 1, got {self.threads}")
            if not 0.0 <= self.dimmer <= 1.0:
                raise ValueError(f"dimmer must be in [0, 1], got {self.dimmer}")
            if self.window_s < self.tick_s:
                raise ValueError(f"window_s ({self.window_s}) must be at least tick_s ({self.tick_s})")

    arrival_rate = Sensor(float, unit="1/s", nullable=True, description="requests arriving per second (window)")
    throughput = Sensor(float, unit="1/s", nullable=True, description="requests served per second (window)")
    response_time = Sensor(
        float, unit="s", nullable=True, description="mean response time of requests finished in the window"
    )
    response_time_p95 = Sensor(float, unit="s", nullable=True, description="95th percentile response time (window)")
    late_share = Sensor(
        float, nullable=True, description="share of finished requests slower than the goal, timed out or rejected"
    )
    optional_share = Sensor(float, nullable=True, description="share of served requests with optional content")
    timeout_rate = Sensor(float, unit="1/s", nullable=True, description="requests timing out per second (window)")
    utilization = Sensor(float, nullable=True, description="busy share of the serving servers (window)")
    servers = Sensor(int, description="servers active or booting")
    active_servers = Sensor(int, description="servers taking requests")
    booting_servers = Sensor(int, description="servers booting")
    dimmer = Sensor(float, description="share of requests served with optional content")
    queue_length = Sensor(int, description="requests waiting for a thread")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        self.model: WebServiceModel | None = None
        self._preloaded: Sequence[float] | None = None
        self._ticker_scope: anyio.CancelScope | None = None

    @property
    def record(self) -> ServiceRecord:
        """What the simulation recorded so far (raises before the first start)."""
        if self.model is None:
            raise RuntimeError(f"{self.id} has not started")
        return self.model.record

    def use_arrivals(self, arrivals: Sequence[float]) -> None:
        """Serve these arrival times (seconds from start) instead of reading ``config.trace``."""
        self._preloaded = arrivals

    async def _load_arrivals(self) -> Sequence[float]:
        if self._preloaded is not None:
            return self._preloaded
        cfg = self.config
        if not cfg.trace:
            raise PermanentEffectorError(
                f"{self.id}: no trace: set config.trace, or run it with `autonomic simulate --trace FILE`"
            )
        from autonomic.simulate.trace import load_trace

        def load() -> Sequence[float]:
            trace = load_trace(cfg.trace, format=cfg.trace_format, interval_s=cfg.rate_interval_s)
            return trace.arrivals(cfg.seed)

        if self.clock.is_virtual:
            # A thread would let virtual time jump while the file loads; read it inline.
            return load()
        return await anyio.to_thread.run_sync(load)

    async def on_start(self) -> None:
        """Load the trace, start the initial servers (already booted) and the simulation task."""
        cfg = self.config
        arrivals = await self._load_arrivals()
        self.model = WebServiceModel(
            arrivals=arrivals,
            start=self.now(),
            initial_servers=cfg.initial_servers,
            threads=cfg.threads,
            timeout_s=cfg.timeout_s,
            boot_delay_s=cfg.boot_delay_s,
            dimmer=cfg.dimmer,
            service_time=cfg.service_time,
            basic_service_time=cfg.basic_service_time,
            rt_goal_s=cfg.utility.rt_goal_s,
            bucket_s=cfg.tick_s,
            window_s=cfg.window_s,
            seed=cfg.seed,
        )
        self._publish_sensors()
        if self.attached:
            self.spawn(self._simulate, name="simulate")

    async def on_stop(self) -> None:
        """Bring the model to now and stop the simulation task."""
        self.flush()
        if self._ticker_scope is not None:
            self._ticker_scope.cancel()

    async def _simulate(self) -> None:
        model = self.model
        if model is None:
            return
        step = self.config.sample_s
        with anyio.CancelScope() as scope:
            self._ticker_scope = scope
            k = 1
            while self.lifecycle.actual not in (Lifecycle.STOPPING, Lifecycle.STOPPED):
                # Between samples nothing reads the sensors but a round, and a round polls first:
                # waking more often would only cost time.
                await self.clock.sleep_until(model.record.start + k * step)
                self.flush()
                k = max(k + 1, math.floor((self.now() - model.record.start) / step) + 1)

    def flush(self) -> None:
        """Process every request event up to the clock's now and publish the sensors."""
        if self.model is None:
            return
        self.model.advance(self.now())
        self._publish_sensors()

    async def poll(self) -> None:
        """Bring the model up to now, so a round sees the present."""
        self.flush()

    def _publish_sensors(self) -> None:
        model = self.model
        if model is None:
            return
        w = model.window()
        self.arrival_rate.publish(w.arrival_rate)
        self.throughput.publish(w.throughput)
        self.response_time.publish(w.response_time)
        self.response_time_p95.publish(w.response_time_p95)
        self.late_share.publish(w.late_share)
        self.optional_share.publish(w.optional_share)
        self.timeout_rate.publish(w.timeout_rate)
        self.utilization.publish(w.utilization)
        self._publish_state()

    def _publish_state(self) -> None:
        model = self.model
        if model is None:
            return
        self.servers.publish(model.servers)
        self.active_servers.publish(model.n_active)
        self.booting_servers.publish(model.n_booting)
        self.dimmer.publish(model.dimmer)
        self.queue_length.publish(model.queue_length)
        self.set_ready(model.n_active > 0)

    def _running_model(self) -> WebServiceModel:
        if self.model is None or self.lifecycle.actual is not Lifecycle.RUNNING:
            raise TemporaryEffectorError(f"{self.id} is not running ({self.lifecycle.actual.value})")
        return self.model

    def _changed_servers(self, change: int) -> None:
        model = self._running_model()
        model.record.server_changes.append((self.now(), change))
        self.record_history("scale_events", change=change)
        self._publish_state()

    @effector(timeout=10, idempotent=True, description="set the share of requests served with optional content")
    async def set_dimmer(self, value: float) -> None:
        """Serve optional content to ``value`` (0 to 1) of the requests from now on."""
        if not (0.0 <= value <= 1.0):
            raise PermanentEffectorError(f"dimmer must be in [0, 1], got {value!r}")
        model = self._running_model()
        model.set_dimmer(self.now(), value)
        model.record.dimmer_changes.append((self.now(), value))
        self._publish_state()

    @effector(timeout=10, idempotent=False, description="start one more server (it boots first)")
    async def add_server(self) -> str:
        """Start a server; it takes requests after ``boot_delay_s``. Returns its name."""
        model = self._running_model()
        if model.servers >= self.config.max_servers:
            raise PermanentEffectorError(f"already {model.servers} servers, the maximum (max_servers)")
        name = model.add_server(self.now())
        self._changed_servers(+1)
        return name

    @effector(timeout=10, idempotent=False, description="remove the newest server (a booting one first)")
    async def remove_server(self) -> str:
        """Cancel the newest booting server, or drain the newest active one. Returns its name."""
        model = self._running_model()
        if model.servers <= self.config.min_servers:
            raise PermanentEffectorError(f"only {model.servers} servers, the minimum (min_servers)")
        name = model.remove_server(self.now())
        self._changed_servers(-1)
        return name

    @effector(timeout=10, idempotent=True, description="add or remove servers to have `count` active or booting")
    async def set_servers(self, count: int) -> None:
        """Have ``count`` servers active or booting (added ones boot; removed ones drain)."""
        cfg = self.config
        if not cfg.min_servers <= count <= cfg.max_servers:
            raise PermanentEffectorError(
                f"count must be within [{cfg.min_servers}, {cfg.max_servers}] (min_servers, max_servers), got {count}"
            )
        model = self._running_model()
        change = count - model.servers
        for _ in range(change):
            model.add_server(self.now())
        for _ in range(-change):
            model.remove_server(self.now())
        if change:
            self._changed_servers(change)
