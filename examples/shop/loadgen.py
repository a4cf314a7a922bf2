"""A bounded load generator for the shop: a fixed request rate, for a fixed time, on loopback only.

    python examples/shop/loadgen.py --rps 60 --duration 20 --concurrency 32

sends ``POST /orders`` (a share ``--reads`` of the requests are
``GET /orders/count`` instead) at a steady rate, open loop: request *i* is due
at *start + i / rps* whether earlier ones answered or not, so an outage shows
up as errors and a backlog, not as a slower client. At most ``--concurrency``
requests are in flight; a request that finds no free slot when due is
counted as ``skipped`` rather than queued, so the load stays bounded. Only
``127.0.0.1``, ``localhost`` and ``::1`` URLs are accepted.

Every acknowledged write (a 201 with the new order's id) is recorded with its
time, which is what the scenarios check against the database after a
failover: an acknowledged write missing from the new primary is a lost write.
``run_load`` is the library entry point; ``Load.stop()`` ends a run early.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anyio
import attrs
import httpx

__all__ = ["Load", "LoadResult", "Outcome", "run_load"]

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@attrs.frozen(kw_only=True)
class Outcome:
    """One request: when it was sent (monotonic seconds), what it was, how it ended."""

    sent: float
    done: float
    kind: str  # "write" or "read"
    status: int | None  # None: no response (connection error, timeout)
    order_id: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Acknowledged: 201 for a write, 200 for a read."""
        return self.status == (201 if self.kind == "write" else 200)


@attrs.frozen(kw_only=True)
class LoadResult:
    """What a run did. Times are ``time.monotonic()`` seconds."""

    started: float
    finished: float
    rps: float
    outcomes: tuple[Outcome, ...]
    skipped: int

    @property
    def acked_ids(self) -> list[int]:
        """The ids of acknowledged writes."""
        return [o.order_id for o in self.outcomes if o.ok and o.order_id is not None]

    @property
    def errors(self) -> Counter[str]:
        """Failed requests by reason (``status 503``, ``ConnectError``, ...)."""
        return Counter(o.error or f"status {o.status}" for o in self.outcomes if not o.ok)

    def latency(self, q: float) -> float | None:
        """The ``q`` quantile (0..1) of the acknowledged requests' latency, in seconds."""
        lat = sorted(o.done - o.sent for o in self.outcomes if o.ok)
        if not lat:
            return None
        return lat[min(len(lat) - 1, math.ceil(q * len(lat)) - 1 if q > 0 else 0)]

    def first_ok_after(self, t: float) -> float | None:
        """When the first request sent at or after ``t`` was acknowledged (its completion time)."""
        done = [o.done for o in self.outcomes if o.ok and o.sent >= t]
        return min(done) if done else None

    def longest_gap(self) -> tuple[float, float] | None:
        """The longest stretch (start, end) between two acknowledged completions."""
        times = sorted(o.done for o in self.outcomes if o.ok)
        if len(times) < 2:
            return None
        gaps = [(b - a, a, b) for a, b in itertools.pairwise(times)]
        _, a, b = max(gaps)
        return a, b

    def summary(self) -> dict[str, Any]:
        """The run in numbers."""
        writes = [o for o in self.outcomes if o.kind == "write"]
        reads = [o for o in self.outcomes if o.kind == "read"]
        p50, p99 = self.latency(0.5), self.latency(0.99)
        gap = self.longest_gap()
        return {
            "duration_s": round(self.finished - self.started, 2),
            "target_rps": self.rps,
            "sent": len(self.outcomes),
            "skipped": self.skipped,
            "acked_writes": sum(o.ok for o in writes),
            "failed_writes": sum(not o.ok for o in writes),
            "ok_reads": sum(o.ok for o in reads),
            "failed_reads": sum(not o.ok for o in reads),
            "errors": dict(self.errors.most_common(5)),
            "latency_ms": {"p50": _ms(p50), "p99": _ms(p99)},
            "longest_gap_s": round(gap[1] - gap[0], 3) if gap else None,
        }


def _ms(s: float | None) -> float | None:
    return None if s is None else round(s * 1000, 1)


def _reason(response: httpx.Response) -> str:
    """``status N: why``, short: the app's JSON error, or HAProxy's page title."""
    why = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            why = str(body.get("error") or body.get("status") or "")
    except ValueError:
        m = re.search(r"<h1>(.*?)</h1>", response.text)
        why = f"haproxy: {m.group(1)}" if m else ""
    return f"status {response.status_code}" + (f": {why}" if why else "")


def check_loopback(url: str) -> None:
    """Refuse anything but a loopback http URL: this tool must never load someone else's server."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None or parts.hostname not in _LOOPBACK:
        raise ValueError(f"only http://127.0.0.1, localhost or ::1 URLs are allowed, got {url!r}")


@attrs.define
class Load:
    """A run in progress (see :func:`run_load`); ``stop()`` ends it before its duration."""

    _stop: anyio.Event = attrs.field(factory=anyio.Event)
    outcomes: list[Outcome] = attrs.field(factory=list)
    #: set (and replaced) at each outcome, for wait_until
    _news: anyio.Event = attrs.field(factory=anyio.Event)

    def record(self, outcome: Outcome) -> None:
        """Add an outcome and wake those waiting in :meth:`wait_until`."""
        self.outcomes.append(outcome)
        news, self._news = self._news, anyio.Event()
        news.set()

    async def wait_until(self, condition: Callable[[list[Outcome]], bool]) -> None:
        """Return once ``condition(outcomes)`` holds (checked at each new outcome)."""
        while not condition(self.outcomes):
            await self._news.wait()

    def stop(self) -> None:
        """End the run: no more requests are sent; those in flight finish."""
        self._stop.set()

    async def wait_stopped(self) -> None:
        """Return once ``stop()`` was called."""
        await self._stop.wait()

    @property
    def stopped(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stop.is_set()


async def run_load(
    url: str,
    *,
    rps: float,
    duration: float,
    concurrency: int = 32,
    reads: float = 0.0,
    timeout: float = 5.0,
    load: Load | None = None,
) -> LoadResult:
    """Send ``rps`` requests per second to ``url`` for ``duration`` seconds (see the module docs).

    ``reads`` is the share (0..1) of ``GET /orders/count``; the rest are
    ``POST /orders``. ``load`` lets the caller watch ``load.outcomes`` as they
    come and stop the run early.
    """
    check_loopback(url)
    if not (rps > 0 and duration > 0 and concurrency >= 1 and 0.0 <= reads <= 1.0):
        raise ValueError("need rps > 0, duration > 0, concurrency >= 1 and 0 <= reads <= 1")
    load = load or Load()
    base = url.rstrip("/")
    slots = anyio.Semaphore(concurrency)
    skipped = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def one(client: httpx.AsyncClient, i: int, kind: str) -> None:
        sent = time.monotonic()
        try:
            if kind == "write":
                response = await client.post(f"{base}/orders", json={"item": f"load-{i}", "qty": 1 + i % 5})
            else:
                response = await client.get(f"{base}/orders/count")
        except httpx.HTTPError as exc:
            load.record(Outcome(sent=sent, done=time.monotonic(), kind=kind, status=None, error=type(exc).__name__))
            return
        finally:
            slots.release()
        order_id, error = None, None
        if response.status_code >= 300:
            error = _reason(response)
        if kind == "write" and response.status_code == 201:
            try:
                order_id = int(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                order_id = None
        load.record(
            Outcome(
                sent=sent, done=time.monotonic(), kind=kind, status=response.status_code, order_id=order_id, error=error
            )
        )

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client, anyio.create_task_group() as tg:
        i = 0
        every = max(1, round(1 / reads)) if reads > 0 else 0
        while True:
            due = started + i / rps
            if due - started >= duration:
                break
            # Sleep until the request is due, unless stop() comes first.
            with anyio.move_on_after(max(0.0, due - time.monotonic())):
                await load.wait_stopped()
            if load.stopped:
                break
            kind = "read" if every and i % every == 0 else "write"
            try:
                slots.acquire_nowait()
            except anyio.WouldBlock:
                skipped += 1
            else:
                tg.start_soon(one, client, i, kind)
            i += 1
    return LoadResult(
        started=started, finished=time.monotonic(), rps=rps, outcomes=tuple(load.outcomes), skipped=skipped
    )


def main(argv: list[str] | None = None) -> int:
    """The command line: run once, print the summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:18080", help="the shop (loopback only)")
    parser.add_argument("--rps", type=float, default=50.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at most")
    parser.add_argument("--reads", type=float, default=0.0, help="share of GET /orders/count (0..1)")
    args = parser.parse_args(argv)
    try:
        result = anyio.run(
            lambda: run_load(
                args.url, rps=args.rps, duration=args.duration, concurrency=args.concurrency, reads=args.reads
            )
        )
    except ValueError as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.summary(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
