"""Prometheus sensors and the Prometheus server entity, against a real ``prometheus``.

A tiny exporter in the test process serves a counter that grows by exactly
``RATE`` per second of wall-clock time (computed at scrape time, so rates are
known), a gauge with two labelled series, and a NaN gauge. Prometheus scrapes
it every second from a file_sd target list. The interpretation of answers
(reductions, labels, NaN, absent series) is also checked on literal API
answers, without a server.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from autonomic.clock import SystemClock
from autonomic.entities.prometheus import (
    PointReducer,
    PrometheusConfig,
    PrometheusSensors,
    PrometheusServerEntity,
    PrometheusSource,
    PromQuery,
    SeriesReducer,
    interpret,
)
from autonomic.entity import Entity
from autonomic.errors import ConfigError, PermanentEffectorError, TemporaryEffectorError
from autonomic.knowledge.knowledge import Knowledge
from autonomic.knowledge.memory import MemoryStore
from autonomic.lifecycle import Lifecycle
from autonomic.policy import PolicySet
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.runtime import Runtime
from autonomic.sensor import Sensor
from tests.support.binaries import free_port, require_binary

RATE = 10.0  # the exporter's requests per second


# -- the in-test exporter -------------------------------------------------------------------


class _Collector(Collector):
    """A counter growing at ``RATE``/s, a two-series gauge and a NaN gauge, read at scrape time."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def collect(self) -> Iterable[Metric]:
        yield CounterMetricFamily("test_requests", "requests served", value=RATE * (time.monotonic() - self.t0))
        depth = GaugeMetricFamily("test_queue_depth", "items waiting", labels=["queue"])
        depth.add_metric(["a"], 3.0)
        depth.add_metric(["b"], 5.0)
        yield depth
        yield GaugeMetricFamily("test_broken_ratio", "a 0/0 ratio", value=math.nan)


@attrs.frozen
class Exporter:
    """A running exporter: its ``host:port`` target."""

    target: str


@pytest.fixture
def exporters() -> Iterator[Callable[[], Exporter]]:
    """Start exporters on demand; all are shut down at the end."""
    servers: list[Any] = []

    def start() -> Exporter:
        registry = CollectorRegistry()
        registry.register(_Collector())
        port = free_port()
        server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
        servers.append((server, thread))
        return Exporter(f"127.0.0.1:{port}")

    try:
        yield start
    finally:
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@pytest.fixture
def prometheus_binary() -> Path:
    """The real ``prometheus`` program (installed with apt-get if missing)."""
    return require_binary("prometheus", "prometheus")


@pytest.fixture
async def prom(prometheus_binary: Path, exporters: Callable[[], Exporter]) -> AsyncIterator[PrometheusServerEntity]:
    """A started Prometheus scraping one exporter every second; always stopped."""
    server = PrometheusServerEntity(
        "prometheus",
        {
            "binary": str(prometheus_binary),
            "targets": [exporters().target],
            "scrape_interval_s": 1.0,
            "file_sd_refresh_s": 1.0,
            "start_timeout_s": 20.0,
        },
    )
    try:
        await server.start()
        yield server
    finally:
        await server.stop()
    assert server.data_dir is None  # the temporary storage is gone


async def until(check: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> None:
    """Wait (checking every 0.2 s) until ``check`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g} s")
        await anyio.sleep(0.2)


# -- an entity fed by queries -----------------------------------------------------------------


class Web(PrometheusSensors, type_name="test-prometheus-web"):
    """An entity whose own sensors come from Prometheus."""

    @attrs.frozen(kw_only=True)
    class Config:
        """Only the Prometheus block."""

        prometheus: PrometheusConfig | None = None

    requests_total = Sensor(float, nullable=True)
    samples = Sensor(int, nullable=True)
    requests_per_second = Sensor(float, unit="1/s", nullable=True)
    rps_window_mean = Sensor(float, unit="1/s", nullable=True)
    queue_total = Sensor(float, nullable=True)
    queue_by_name = Sensor(dict, nullable=True)
    queue_unreduced = Sensor(float, nullable=True)
    missing = Sensor(float, nullable=True)
    broken = Sensor(float, nullable=True)


WEB_QUERIES: dict[str, Any] = {
    "requests_total": "test_requests_total",
    # How many scrapes the last 5 s hold: the rate windows below are covered once it reaches 5.
    "samples": "count_over_time(test_requests_total[5s])",
    "requests_per_second": "sum(rate(test_requests_total[4s]))",
    "rps_window_mean": {
        "expr": "rate(test_requests_total[2s])",
        "kind": "range",
        "window_s": 2,
        "step_s": 1,
        "reducer": "mean",
    },
    "queue_total": {"expr": "test_queue_depth", "reduce": "sum"},
    "queue_by_name": {"expr": "test_queue_depth", "labels": ["queue"]},
    "queue_unreduced": "test_queue_depth",
    "missing": "test_no_such_metric",
    "broken": "test_broken_ratio",
}


@pytest.mark.integration
@pytest.mark.anyio
async def test_queries_feed_sensors_and_go_stale_not_zero(prom: PrometheusServerEntity) -> None:
    url = prom.url.value
    assert isinstance(url, str) and url.startswith("http://127.0.0.1:")
    web = Web("web", {"prometheus": {"url": url, "queries": WEB_QUERIES, "timeout_s": 3}})
    # A source that finds the server by its entity name, as blueprints do.
    root = Entity("root")
    root.add_child(prom)
    source = PrometheusSource("source", {"server": "prometheus", "queries": {"up": "sum(up)", "gone": "test_nothing"}})
    root.add_child(source)
    root.add_child(web)
    try:

        async def windows_covered() -> bool:
            # A rate over a window only partly covered by data is underestimated (Prometheus extrapolates
            # at most half a scrape interval past the first sample), so the values are checked once covered.
            await web.poll()
            return (web.samples.value or 0) >= 5 and not web.samples.stale

        await until(windows_covered, timeout=15, what="5 s of samples in Prometheus")

        values = web.sensor_values()
        assert values["requests_total"] is not None and values["requests_total"] > 0
        assert 0.7 * RATE < values["requests_per_second"] < 1.3 * RATE
        assert 0.7 * RATE < values["rps_window_mean"] < 1.3 * RATE
        assert values["queue_total"] == 8.0
        assert values["queue_by_name"] == {"a": 3.0, "b": 5.0}

        # Unknown is unknown: no series, NaN and an unresolved multi-series answer are stale, never 0.
        for name, category, words in [
            ("missing", "no series", "test_no_such_metric"),
            ("broken", "non-finite", "NaN"),
            ("queue_unreduced", "ambiguous", "2 series"),
        ]:
            reading = web.prometheus_readings[name]
            assert values[name] is None and web.sensor(name).stale, name
            assert reading.category == category and reading.reason is not None
            assert words.lower() in reading.reason.lower(), reading.reason
        problems = web.take_problems()
        assert any("missing: stale (no series" in p for p in problems), problems

        await source.poll()
        assert source.values.value == {"up": 1.0}
        assert "no series" in source.stale_queries.value["gone"]

        # Prometheus goes away: every sensor is stale, with the reason "unreachable".
        await prom.stop()
        await web.poll()
        after = web.sensor_values()
        assert all(v is None for v in after.values()), after
        assert all(web.sensor(n).stale for n in WEB_QUERIES)
        assert {r.category for r in web.prometheus_readings.values()} == {"unreachable"}
        problems = web.take_problems()
        assert any("requests_per_second: stale (unreachable" in p for p in problems), problems

        await source.poll()
        assert source.values.stale and source.sensor_values()["values"] is None
        assert "not running" in source.stale_queries.value["up"]
    finally:
        await web.stop()
        await source.stop()


@pytest.mark.integration
@pytest.mark.anyio
async def test_file_sd_targets_are_followed_without_reload(
    prom: PrometheusServerEntity, exporters: Callable[[], Exporter]
) -> None:
    second = exporters().target

    async def targets_up(n: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            await prom.poll()
            return bool(prom.targets_up.value == n)

        return check

    await until(await targets_up(1), timeout=12, what="the first target scraped")

    # One change adds a target and removes one; Prometheus applies discovery changes within ~5 s.
    await prom.set_targets([second])
    assert prom.targets.value == [second]

    async def only_second_up() -> bool:
        async with prom.client() as client:
            active = await client.targets()
        return [(t["scrapeUrl"], t["health"]) for t in active] == [(f"http://{second}/metrics", "up")]

    await until(only_second_up, timeout=12, what="the new target list followed (file_sd)")
    await prom.poll()
    assert prom.targets_up.value == 1
    async with prom.client() as client:
        reading = await client.read(PromQuery(sensor="n", expr=f'count(up{{instance="{second}"}} == 1)'))
        assert reading.value == 1.0

    with pytest.raises(PermanentEffectorError, match="host:port"):
        await prom.set_targets(["no-port-here"])
    assert prom.targets.value == [second]


@pytest.mark.integration
@pytest.mark.anyio
async def test_server_death_is_noticed_by_waiting_on_the_process(prometheus_binary: Path) -> None:
    prom = PrometheusServerEntity("prometheus", {"binary": str(prometheus_binary), "scrape_interval_s": 1.0})
    knowledge = Knowledge(MemoryStore(), SystemClock())
    await knowledge.open()
    engine = EmbeddedEngine(PolicySet.from_texts({}))
    runtime = Runtime(prom, engine, knowledge, SystemClock())
    try:
        async with runtime.running():
            try:

                async def running() -> bool:
                    return prom.lifecycle.actual is Lifecycle.RUNNING

                await until(running, timeout=20, what="prometheus started by the runtime")
                pid = prom.pid
                assert pid is not None and prom.ready
                os.kill(pid, signal.SIGKILL)

                async def on_fire() -> bool:
                    return prom.lifecycle.actual is Lifecycle.ON_FIRE

                # No poll here: only the task waiting on the process can notice.
                await until(on_fire, timeout=5, what="the death noticed")
                assert not prom.up
                assert "signal 9" in prom.not_up_reasons["process"]
                assert prom.url.stale and prom.sensor_values()["url"] is None
            finally:
                await prom.stop()
        assert prom.lifecycle.actual is Lifecycle.STOPPED
    finally:
        await knowledge.close()
        await engine.aclose()


@pytest.mark.integration
@pytest.mark.anyio
async def test_a_server_that_cannot_start_fails_with_its_log(prometheus_binary: Path, tmp_path: Path) -> None:
    prom = PrometheusServerEntity(
        "prometheus",
        {"binary": str(prometheus_binary), "data_dir": str(tmp_path), "extra_args": ["--no-such-flag"]},
    )
    try:
        with pytest.raises(TemporaryEffectorError, match="exited with code 1") as info:
            await prom.start()
        assert "no-such-flag" in str(info.value)  # the log's tail says why
        assert prom.lifecycle.actual is Lifecycle.ON_FIRE and prom.pid is None
    finally:
        await prom.stop()
    assert (tmp_path / "prometheus.yml").exists()  # a data_dir given in config is kept


@pytest.mark.integration
@pytest.mark.anyio
async def test_a_taken_port_is_refused_not_mistaken_for_ours(prometheus_binary: Path) -> None:
    blocker = PrometheusServerEntity("blocker", {"binary": str(prometheus_binary)})
    await blocker.start()
    try:
        url = blocker.url.value
        assert isinstance(url, str)
        port = int(url.rsplit(":", 1)[1])
        prom = PrometheusServerEntity("prometheus", {"binary": str(prometheus_binary), "port": port})
        with pytest.raises(TemporaryEffectorError, match="already in use"):
            await prom.start()
        await prom.stop()
    finally:
        await blocker.stop()


# -- config and interpretation, no server --------------------------------------------------------


@pytest.mark.anyio
async def test_a_silent_server_times_out_and_a_missing_server_entity_is_named() -> None:
    # Listening but never answering: connections succeed (the kernel's backlog), answers never come.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        web = Web("web", {"prometheus": {"url": url, "queries": {"requests_total": "up"}, "timeout_s": 0.5}})
        started = time.monotonic()
        await web.poll()
        assert time.monotonic() - started < 3
        await web.stop()
    reading = web.prometheus_readings["requests_total"]
    assert reading.category == "timeout" and "0.5 s" in (reading.reason or "")
    assert web.requests_total.stale

    source = PrometheusSource("source", {"server": "nowhere", "queries": {"up": "up"}})
    await source.poll()
    assert source.values.stale
    assert "no entity 'nowhere'" in source.stale_queries.value["up"]


def test_config_accepts_strings_and_mappings_and_names_the_sensor() -> None:
    web = Web("web", {"prometheus": {"server": "prometheus", "queries": WEB_QUERIES}})
    cfg = web.prometheus_config
    assert cfg is not None
    q = cfg.queries["rps_window_mean"]
    assert (q.sensor, q.kind, q.window_s, q.step_s, q.reducer) == ("rps_window_mean", "range", 2.0, 1.0, "mean")
    assert cfg.queries["requests_total"] == PromQuery(sensor="requests_total", expr="test_requests_total")
    assert web.config_json["prometheus"]["queries"]["queue_by_name"]["labels"] == ["queue"]


@pytest.mark.parametrize(
    ("prometheus", "message"),
    [
        ({"url": "http://x:9090", "queries": {"nope": "up"}}, "no such sensor"),
        ({"url": "http://x:9090", "queries": {"queue_by_name": "up"}}, "sensor holds dict"),
        ({"url": "http://x:9090", "queries": {"requests_total": {"expr": "up", "labels": ["a"]}}}, "labels give a dict"),
        ({"url": "http://x:9090", "queries": {"missing": {"expr": "up", "kind": "rnge"}}}, "kind"),
        ({"url": "http://x:9090", "queries": {"missing": {"expr": "up", "step_s": 90}}}, "must not exceed window_s"),
        ({"url": "http://x:9090", "queries": {"missing": ""}}, "empty string"),
        ({"queries": {"missing": "up"}}, "exactly one of url"),
        ({"url": "x:9090", "queries": {}}, "http://"),
    ],
)
def test_config_problems_are_named(prometheus: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Web("web", {"prometheus": prometheus})


def _vector(*series: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {"resultType": "vector", "result": [{"metric": m, "value": [1.0, v]} for m, v in series]}


def test_interpretation_of_answers() -> None:
    q = PromQuery(sensor="s", expr="x")
    assert interpret(q, _vector(({}, "2.5"))).value == 2.5
    assert interpret(q, {"resultType": "scalar", "result": [1.0, "4"]}).value == 4.0
    assert interpret(q, _vector()).category == "no series"
    for bad in ("NaN", "+Inf", "-Inf"):
        reading = interpret(q, _vector(({}, bad)))
        assert reading.category == "non-finite" and reading.value is None
    assert interpret(q, {"resultType": "string", "result": [1.0, "a"]}).category == "bad response"
    assert interpret(q, {"resultType": "vector", "result": [{"metric": {}, "value": "7"}]}).category == "bad response"

    two = _vector(({"i": "b"}, "5"), ({"i": "a"}, "3"))
    assert interpret(q, two).category == "ambiguous"
    expected: dict[SeriesReducer, float] = {"sum": 8.0, "max": 5.0, "min": 3.0, "mean": 4.0, "first": 3.0}  # first in label order
    for how, value in expected.items():
        assert interpret(attrs.evolve(q, reduce=how), two).value == value
    # A sum with an unknown term is unknown.
    assert interpret(attrs.evolve(q, reduce="sum"), _vector(({"i": "a"}, "1"), ({"i": "b"}, "NaN"))).stale

    by = attrs.evolve(q, labels=("i",))
    assert interpret(by, two).value == {"a": 3.0, "b": 5.0}
    # One idle backend's NaN leaves that key out; the others are still known.
    assert interpret(by, _vector(({"i": "a"}, "1"), ({"i": "b"}, "NaN"))).value == {"a": 1.0}
    assert interpret(by, _vector(({"i": "a"}, "NaN"))).category == "non-finite"
    shared = _vector(({"i": "a", "j": "1"}, "1"), ({"i": "a", "j": "2"}, "2"))
    assert interpret(by, shared).category == "ambiguous"
    assert interpret(attrs.evolve(by, reduce="sum"), shared).value == {"a": 3.0}
    assert interpret(attrs.evolve(q, labels=("i", "j")), shared).value == {"a/1": 1.0, "a/2": 2.0}

    matrix = {
        "resultType": "matrix",
        "result": [{"metric": {}, "values": [[1.0, "1"], [2.0, "4"], [3.0, "2"]]}],
    }
    r = attrs.evolve(q, kind="range", window_s=3, step_s=1)
    expected_points: dict[PointReducer, float] = {"last": 2.0, "mean": 7.0 / 3.0, "max": 4.0, "min": 1.0}
    for point_how, value in expected_points.items():
        assert interpret(attrs.evolve(r, reducer=point_how), matrix).value == pytest.approx(value)
    holey = {"resultType": "matrix", "result": [{"metric": {}, "values": [[1.0, "NaN"], [2.0, "4"]]}]}
    assert interpret(attrs.evolve(r, reducer="mean"), holey).category == "non-finite"
    assert interpret(attrs.evolve(r, reducer="last"), holey).value == 4.0
