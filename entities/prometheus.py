"""Prometheus: sensors fed by PromQL queries, and a Prometheus server to run.

Reading
    :class:`PromQuery` says what one sensor reads: a PromQL expression, run as
    an instant query (``/api/v1/query``) or as a range query
    (``/api/v1/query_range``, ``window_s`` back from now every ``step_s``,
    each series' points reduced by ``reducer``). When the answer has several
    series, ``reduce`` folds them into one number and ``labels`` turns them
    into a ``{label value: number}`` dict. :class:`PrometheusClient` (httpx)
    runs queries with a timeout and turns every answer into a
    :class:`PromReading`: a value, or the reason it has none.

    An entity feeds its *own declared sensors* from queries by mixing in
    :class:`PrometheusSensors` and giving its config a
    ``prometheus: PrometheusConfig | None = None`` field::

        class WebCluster(PrometheusSensors, ClusterEntity, type_name="web-cluster"):
            @attrs.frozen(kw_only=True)
            class Config(ClusterEntity.Config):
                prometheus: PrometheusConfig | None = None

            requests_per_second = Sensor(float, unit="1/s", nullable=True)

    with, in the blueprint::

        prometheus:
          server: monitoring/prometheus      # or url: http://127.0.0.1:9090
          queries:
            requests_per_second: sum(rate(http_requests_total[30s]))

    The sensors keep their declared names, types and units, so policies read
    ``input.entity.sensors.requests_per_second`` as they would any other
    sensor; that is why this is a mixin rather than an entity with one dict
    of values. :class:`PrometheusSource` (``prometheus-source``) is there too,
    for blueprints that want query results without a custom entity class: it
    publishes them all in one ``values`` dict.

    Nothing is ever published as zero for want of data: when Prometheus is
    unreachable, answers with an error or a timeout, returns no series, or
    evaluates to NaN or an infinity, the sensor is marked stale (``null`` to
    policies) with the reason.

Running
    :class:`PrometheusServerEntity` (``prometheus``) runs a real ``prometheus``
    process on 127.0.0.1 with storage in a temporary folder. Its scrape
    targets live in a file_sd file that Prometheus watches, so
    :meth:`~PrometheusServerEntity.set_targets` (for instance with a
    cluster's members) takes effect without a reload or a restart.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

import anyio
import anyio.abc
import attrs
import httpx
from cattrs.gen import make_dict_structure_fn

from autonomic._convert import converter
from autonomic.effector import effector
from autonomic.entity import Entity
from autonomic.errors import AutonomicError, ConfigError, PermanentEffectorError, TemporaryEffectorError
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor

__all__ = [
    "PointReducer",
    "PromQuery",
    "PromReading",
    "PrometheusClient",
    "PrometheusConfig",
    "PrometheusError",
    "PrometheusReader",
    "PrometheusSensors",
    "PrometheusServerEntity",
    "PrometheusSource",
    "QueryKind",
    "SeriesReducer",
    "interpret",
]

QueryKind = Literal["instant", "range"]
PointReducer = Literal["last", "mean", "max", "min"]
SeriesReducer = Literal["sum", "max", "min", "mean", "first"]

#: how the parts of a multi-label key are joined (``labels: [job, instance]`` gives ``"web/10.0.0.1:80"``)
LABEL_KEY_SEPARATOR = "/"
_LOG_TAIL_BYTES = 2000


# Config checks raise ConfigError, not ValueError: the config converter reports a
# ValueError as a bare "invalid value", and these messages say what is wrong.


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


@attrs.frozen(kw_only=True)
class PromQuery:
    """One PromQL query feeding one sensor.

    ``kind`` is ``"instant"`` (the value now) or ``"range"`` (``window_s``
    seconds back from now, one point every ``step_s``, each series' points
    reduced by ``reducer``: ``last``, ``mean``, ``max`` or ``min``).

    A result with several series must say what to do with them: ``reduce``
    (``sum``, ``max``, ``min``, ``mean``, or ``first`` in label order) folds
    them into one number; ``labels`` makes a dict keyed by those labels'
    values (joined by ``/`` when there are several), for a ``dict`` sensor,
    and then ``reduce`` folds series that share a key. Without either, more
    than one series is an error (the sensor goes stale), not a guess.

    ``timeout_s`` overrides the client's timeout for this query.
    """

    #: the sensor fed (the key of the ``queries`` mapping in config)
    sensor: str = ""
    expr: str
    kind: QueryKind = "instant"
    window_s: float = 60.0
    step_s: float = 15.0
    reducer: PointReducer = "last"
    reduce: SeriesReducer | None = None
    labels: tuple[str, ...] = ()
    timeout_s: float | None = None

    def __attrs_post_init__(self) -> None:
        if not self.expr.strip():
            raise ConfigError("expr must be a PromQL expression, got an empty string")
        _positive("window_s", self.window_s)
        _positive("step_s", self.step_s)
        if self.step_s > self.window_s:
            raise ConfigError(f"step_s ({self.step_s:g}) must not exceed window_s ({self.window_s:g})")
        if self.timeout_s is not None:
            _positive("timeout_s", self.timeout_s)
        if len(set(self.labels)) != len(self.labels) or not all(self.labels):
            raise ConfigError(f"labels must be distinct non-empty label names, got {list(self.labels)}")


def _structure_query(value: Any, _: type[Any]) -> PromQuery:
    """A query from config: a PromQL string (an instant query) or a mapping of :class:`PromQuery` fields."""
    if isinstance(value, PromQuery):
        return value
    if isinstance(value, str):
        return PromQuery(expr=value)
    if isinstance(value, Mapping):
        return _query_from_mapping(value, PromQuery)
    raise ConfigError(f"a query is a PromQL string or a mapping with 'expr', got {type(value).__name__}")


_query_from_mapping = make_dict_structure_fn(PromQuery, converter)
# Config may spell a query as a bare string; the shared converter needs to know that.
converter.register_structure_hook(PromQuery, _structure_query)


def _named_queries(queries: Mapping[str, PromQuery | str]) -> dict[str, PromQuery]:
    """Name each query after its key (the sensor it feeds)."""
    out: dict[str, PromQuery] = {}
    for name, q in queries.items():
        query = PromQuery(expr=q) if isinstance(q, str) else q
        if query.sensor and query.sensor != name:
            raise ConfigError(f"query {name!r} names sensor {query.sensor!r}; the key is the sensor name")
        out[name] = attrs.evolve(query, sensor=name)
    return out


@attrs.frozen(kw_only=True)
class PrometheusConfig:
    """Where Prometheus is and what to ask it: the ``prometheus`` block of an entity's config.

    Exactly one of ``url`` (the HTTP API's base, e.g. ``http://127.0.0.1:9090``)
    and ``server`` (the id of a :class:`PrometheusServerEntity`, or of any
    entity with a ``url`` sensor, in the same tree; a sibling's name will do)
    says where. ``queries`` maps sensor names to a PromQL string (an instant
    query) or a mapping of :class:`PromQuery` fields. ``timeout_s`` bounds
    each query.
    """

    url: str | None = None
    server: str | None = None
    queries: dict[str, PromQuery] = attrs.field(factory=dict, converter=_named_queries)
    timeout_s: float = 5.0

    def __attrs_post_init__(self) -> None:
        if (self.url is None) == (self.server is None):
            raise ConfigError("give exactly one of url (the Prometheus HTTP API) and server (an entity id)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"url must start with http:// or https://, got {self.url!r}")
        _positive("timeout_s", self.timeout_s)


@attrs.frozen(kw_only=True)
class PromReading:
    """What a query gave: a value, or (``reason``) why there is none.

    ``category`` is one of ``unreachable``, ``timeout``, ``http error``,
    ``query error``, ``bad response``, ``no series``, ``non-finite``,
    ``ambiguous``; ``reason`` starts with it. ``series`` counts the series
    the answer had.
    """

    value: float | dict[str, float] | None = None
    reason: str | None = None
    category: str | None = None
    series: int = 0

    @property
    def stale(self) -> bool:
        """True when there is no value to publish."""
        return self.reason is not None

    @classmethod
    def failed(cls, category: str, message: str, *, series: int = 0) -> PromReading:
        """A reading without a value."""
        return cls(reason=f"{category}: {message}", category=category, series=series)


class PrometheusError(AutonomicError):
    """Prometheus could not answer a request; ``category`` as in :class:`PromReading`."""

    def __init__(self, category: str, message: str) -> None:
        self.category = category
        self.message = message
        super().__init__(f"{category}: {message}")


# -- interpreting answers ----------------------------------------------------------------


def _sample(point: Any) -> float:
    """The value of a ``[time, "value"]`` pair (Prometheus sends values as strings, "NaN" included)."""
    if not (isinstance(point, list | tuple) and len(point) == 2 and isinstance(point[1], str | int | float)):
        raise ValueError(f"expected a [time, value] pair, got {point!r:.80}")
    return float(point[1])


def _reduce_points(values: list[float], how: PointReducer) -> float:
    """Fold one series' points; a non-finite point makes the result non-finite (unknown, not skipped)."""
    if how == "last":
        return values[-1]
    bad = next((v for v in values if not math.isfinite(v)), None)
    if bad is not None:
        return bad
    if how == "mean":
        return math.fsum(values) / len(values)
    return max(values) if how == "max" else min(values)


def _reduce_series(values: list[float], how: SeriesReducer) -> float:
    """Fold several series' values (already in label order, for ``first``)."""
    bad = next((v for v in values if not math.isfinite(v)), None)
    if bad is not None:
        return bad
    if how == "sum":
        return math.fsum(values)
    if how == "mean":
        return math.fsum(values) / len(values)
    if how == "first":
        return values[0]
    return max(values) if how == "max" else min(values)


def _series_of(query: PromQuery, data: Any) -> list[tuple[dict[str, str], float]]:
    """``(labels, value)`` per series of an API ``data`` object, in label order; raises ValueError."""
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a data object, got {type(data).__name__}")
    rtype, result = data.get("resultType"), data.get("result")
    raw: list[tuple[Any, list[Any]]]
    if rtype == "scalar":
        raw = [({}, [result])]
    elif rtype == "vector" and isinstance(result, list):
        raw = [(s.get("metric", {}), [s.get("value")]) for s in result]
    elif rtype == "matrix" and isinstance(result, list):
        raw = [(s.get("metric", {}), s.get("values") or []) for s in result]
    else:
        raise ValueError(f"unsupported result type {rtype!r} (expected a vector, a matrix or a scalar)")
    out: list[tuple[dict[str, str], float]] = []
    for metric, points in raw:
        if not isinstance(metric, Mapping):
            raise ValueError(f"expected series labels, got {metric!r:.80}")
        if not points:
            continue
        values = [_sample(p) for p in points]
        out.append(({str(k): str(v) for k, v in metric.items()}, _reduce_points(values, query.reducer)))
    out.sort(key=lambda s: sorted(s[0].items()))
    return out


def _describe(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def interpret(query: PromQuery, data: Any) -> PromReading:
    """Turn the ``data`` of a successful API answer into a reading for ``query``.

    Absent series, NaN and infinities, and an unresolved choice between
    several series all give a stale reading with the reason.
    """
    try:
        series = _series_of(query, data)
    except (ValueError, TypeError, AttributeError) as exc:
        return PromReading.failed("bad response", f"{query.expr!r}: {exc}")
    n = len(series)
    if not series:
        return PromReading.failed(
            "no series", f"{query.expr!r} returned no data (an absent series is unknown, not zero)"
        )
    if query.labels:
        groups: dict[str, list[float]] = {}
        for labels, v in series:
            key = LABEL_KEY_SEPARATOR.join(labels.get(name, "") for name in query.labels)
            groups.setdefault(key, []).append(v)
        values: dict[str, float] = {}
        dropped: list[str] = []
        for key, vs in groups.items():
            if len(vs) > 1 and query.reduce is None:
                return PromReading.failed(
                    "ambiguous",
                    f"{query.expr!r}: {len(vs)} series share the key {key!r} of labels {list(query.labels)};"
                    " add labels or set reduce",
                    series=n,
                )
            v = vs[0] if query.reduce is None else _reduce_series(vs, query.reduce)
            if math.isfinite(v):
                values[key] = v
            else:
                # One idle backend's 0/0 must not hide the others: its key is left out (unknown).
                dropped.append(f"{key}={v}")
        if not values:
            return PromReading.failed(
                "non-finite", f"{query.expr!r} evaluated to {', '.join(dropped)} for every key", series=n
            )
        return PromReading(value=values, series=n)
    if query.reduce is not None:
        value = _reduce_series([v for _, v in series], query.reduce)
    elif n > 1:
        shown = ", ".join(_describe(labels) for labels, _ in series[:3])
        return PromReading.failed(
            "ambiguous", f"{query.expr!r} returned {n} series ({shown}{', ...' if n > 3 else ''}); set reduce or labels",
            series=n,
        )
    else:
        value = series[0][1]
    if not math.isfinite(value):
        return PromReading.failed("non-finite", f"{query.expr!r} evaluated to {value} (e.g. 0/0)", series=n)
    return PromReading(value=value, series=n)


# -- the HTTP client ------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    """A Prometheus duration (``1500ms``); Prometheus wants whole numbers with a unit."""
    return f"{max(1, round(seconds * 1000))}ms"


class PrometheusClient:
    """Asks one Prometheus server's HTTP API; an async context manager (or call :meth:`aclose`).

    :meth:`instant`, :meth:`range` and :meth:`targets` raise
    :class:`PrometheusError`; :meth:`read` and :meth:`read_all` never do for
    anything Prometheus or the network does: they return stale readings.
    Every request is bounded by ``timeout_s`` (or the query's own), on the
    client and, for queries, on the server.
    """

    def __init__(self, url: str, *, timeout_s: float = 5.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        if not (timeout_s > 0 and math.isfinite(timeout_s)):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout_s, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def _request(self, method: str, path: str, *, data: Mapping[str, str] | None, timeout_s: float) -> Any:
        """Send one request and return the API's ``data``; raise :class:`PrometheusError`."""
        where = f"{self.url}{path}"
        try:
            # Our own deadline as well as httpx's: a server that trickles bytes must not hold a round.
            with anyio.fail_after(timeout_s):
                if method == "GET":
                    response = await self._http.get(path, params=data, timeout=timeout_s)
                else:
                    response = await self._http.post(path, data=data, timeout=timeout_s)
        except (TimeoutError, httpx.TimeoutException):
            raise PrometheusError("timeout", f"no answer from {where} within {timeout_s:g} s")
        except httpx.TransportError as exc:
            raise PrometheusError("unreachable", f"{where}: {type(exc).__name__}: {str(exc) or 'connection failed'}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, Mapping) and body.get("status") == "error":
            raise PrometheusError(
                "query error", f"{body.get('errorType', 'error')}: {body.get('error', '(no message)')} ({where})"
            )
        if response.status_code != 200:
            raise PrometheusError("http error", f"{where} answered {response.status_code}: {response.text[:200]!r}")
        if not isinstance(body, Mapping) or body.get("status") != "success":
            raise PrometheusError("bad response", f"{where} did not answer a Prometheus API success: {response.text[:200]!r}")
        return body.get("data")

    async def instant(self, expr: str, *, at: float | None = None, timeout_s: float | None = None) -> Any:
        """The ``data`` of an instant query at ``at`` (Unix seconds; default: the server's now)."""
        t = timeout_s or self.timeout_s
        form = {"query": expr, "timeout": _duration(t)}
        if at is not None:
            form["time"] = f"{at:.3f}"
        return await self._request("POST", "/api/v1/query", data=form, timeout_s=t)

    async def range(
        self, expr: str, *, start: float, end: float, step_s: float, timeout_s: float | None = None
    ) -> Any:
        """The ``data`` of a range query from ``start`` to ``end`` (Unix seconds) every ``step_s``."""
        t = timeout_s or self.timeout_s
        form = {
            "query": expr,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step_s:g}",
            "timeout": _duration(t),
        }
        return await self._request("POST", "/api/v1/query_range", data=form, timeout_s=t)

    async def targets(self, *, timeout_s: float | None = None) -> list[dict[str, Any]]:
        """The active scrape targets, as ``/api/v1/targets`` describes them."""
        data = await self._request(
            "GET", "/api/v1/targets", data={"state": "active"}, timeout_s=timeout_s or self.timeout_s
        )
        active = data.get("activeTargets") if isinstance(data, Mapping) else None
        if not isinstance(active, list):
            raise PrometheusError("bad response", f"{self.url}/api/v1/targets has no activeTargets list")
        return [t for t in active if isinstance(t, dict)]

    async def flags(self, *, timeout_s: float | None = None) -> dict[str, str]:
        """The server's command-line flags (``/api/v1/status/flags``)."""
        data = await self._request("GET", "/api/v1/status/flags", data=None, timeout_s=timeout_s or self.timeout_s)
        if not isinstance(data, Mapping):
            raise PrometheusError("bad response", f"{self.url}/api/v1/status/flags is not an object")
        return {str(k): str(v) for k, v in data.items()}

    async def ready(self, *, timeout_s: float | None = None) -> bool:
        """Whether the server says it is ready to serve queries (``/-/ready``)."""
        t = timeout_s or self.timeout_s
        try:
            with anyio.fail_after(t):
                response = await self._http.get("/-/ready", timeout=t)
        except (TimeoutError, httpx.HTTPError):
            return False
        return response.status_code == 200

    async def read(self, query: PromQuery) -> PromReading:
        """Run ``query`` and interpret the answer; failures become stale readings."""
        try:
            if query.kind == "range":
                # Prometheus is a real server on wall-clock time, whatever clock the entities run on.
                end = time.time()
                data = await self.range(
                    query.expr, start=end - query.window_s, end=end, step_s=query.step_s, timeout_s=query.timeout_s
                )
            else:
                data = await self.instant(query.expr, timeout_s=query.timeout_s)
        except PrometheusError as exc:
            return PromReading.failed(exc.category, exc.message)
        return interpret(query, data)

    async def read_all(self, queries: Iterable[PromQuery]) -> dict[str, PromReading]:
        """Run queries concurrently; readings by sensor name."""
        out: dict[str, PromReading] = {}

        async def one(q: PromQuery) -> None:
            out[q.sensor] = await self.read(q)

        async with anyio.create_task_group() as tg:
            for q in queries:
                tg.start_soon(one, q)
        return out


# -- feeding sensors --------------------------------------------------------------------------


def _find_entity(entity: Entity, ref: str) -> Entity | None:
    """The entity ``ref`` names: an id in ``entity``'s tree, or a sibling's (or child's) name."""
    root = entity
    while root.parent is not None:
        root = root.parent
    found = root.find(ref)
    if found is not None:
        return found
    for base in (entity.parent, entity):
        if base is not None:
            found = base.find(f"{base.id}/{ref}")
            if found is not None:
                return found
    return None


class PrometheusReader:
    """Reads one :class:`PrometheusConfig`'s queries on behalf of an entity.

    It resolves where Prometheus is (``url``, or the ``url`` sensor of the
    ``server`` entity, which changes when that server restarts on another
    port) and keeps one client for it. :meth:`read` never raises for
    anything Prometheus or the network does.
    """

    def __init__(self, entity: Entity, config: PrometheusConfig) -> None:
        self.entity = entity
        self.config = config
        self._client: PrometheusClient | None = None

    def url(self) -> str | None:
        """Where Prometheus is now, or None (the server entity is missing or not running)."""
        if self.config.url is not None:
            return self.config.url
        assert self.config.server is not None  # the config checks that one of them is set
        server = _find_entity(self.entity, self.config.server)
        state = server.find_sensor("url") if server is not None else None
        # A server publishes no url (None) when stopped and marks it stale when it dies.
        if state is None or state.stale or not isinstance(state.value, str):
            return None
        return state.value

    async def read(self) -> dict[str, PromReading]:
        """A reading for every query, by sensor name."""
        queries = list(self.config.queries.values())
        url = self.url()
        if url is None:
            ref = self.config.server or ""
            if _find_entity(self.entity, ref) is None:
                why = f"there is no entity {ref!r} (the prometheus server) in {self.entity.id}'s tree"
            else:
                why = f"prometheus server {ref!r} is not running (it has no url)"
            failed = PromReading.failed("unreachable", why)
            return {q.sensor: failed for q in queries}
        if self._client is not None and self._client.url != url.rstrip("/"):
            await self.aclose()
        if self._client is None:
            self._client = PrometheusClient(url, timeout_s=self.config.timeout_s)
        return await self._client.read_all(queries)

    async def aclose(self) -> None:
        """Close the client (a later :meth:`read` opens a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


class PrometheusSensors(Entity):
    """Mixin: feed this entity's own declared sensors from the queries in ``config.prometheus``.

    Put it first among the bases (``class Web(PrometheusSensors, ClusterEntity)``)
    and give the Config a ``prometheus: PrometheusConfig | None = None`` field
    (or override :attr:`prometheus_config`). Each query's key must be a declared
    sensor: a number sensor (``float`` or ``int``), or a ``dict`` sensor when
    the query has ``labels``; this is checked when the entity is built. Every
    :meth:`poll` runs all the queries concurrently and publishes each value,
    or marks the sensor stale with the reason. The last readings are in
    :attr:`prometheus_readings`.
    """

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        #: the last reading of each query, by sensor name (reasons included)
        self.prometheus_readings: dict[str, PromReading] = {}
        cfg = self.prometheus_config
        self._prom_reader = PrometheusReader(self, cfg) if cfg is not None else None
        if cfg is not None:
            self._check_query_sensors(cfg)

    @property
    def prometheus_config(self) -> PrometheusConfig | None:
        """The queries' config: ``config.prometheus`` by default."""
        cfg = getattr(self.config, "prometheus", None)
        if cfg is None or isinstance(cfg, PrometheusConfig):
            return cfg
        raise ConfigError(f"{self.type_name}: config.prometheus must be a PrometheusConfig, got {type(cfg).__name__}")

    def _check_query_sensors(self, cfg: PrometheusConfig) -> None:
        problems: list[str] = []
        for name, q in cfg.queries.items():
            spec = self.sensor_specs.get(name)
            if spec is None:
                problems.append(f"query {name!r}: no such sensor (declared: {', '.join(sorted(self.sensor_specs))})")
            elif spec.enricher is not None:
                problems.append(f"query {name!r}: the sensor is computed by an enricher")
            elif q.labels and spec.kind is not dict:
                problems.append(f"query {name!r}: labels give a dict, but the sensor holds {spec.kind.__name__}")
            elif not q.labels and spec.kind not in (float, int):
                problems.append(f"query {name!r}: a query gives a number, but the sensor holds {spec.kind.__name__}")
        if problems:
            raise ConfigError(f"{self.type_name} {self.name}: config.prometheus: " + "; ".join(problems))

    async def poll(self) -> None:
        """Poll what the other bases poll, then the Prometheus queries."""
        await super().poll()
        await self.poll_prometheus()

    async def poll_prometheus(self) -> None:
        """Run the queries and publish (or mark stale) the sensors they feed."""
        if self._prom_reader is None:
            return
        readings = await self._prom_reader.read()
        self.prometheus_readings = readings
        for name, reading in readings.items():
            state = self.sensor(name)
            if reading.reason is None:
                state.publish(reading.value)
            else:
                state.mark_stale(reading.reason)

    async def on_stop(self) -> None:
        """Stop what the other bases stop, then close the connection to Prometheus."""
        try:
            await super().on_stop()
        finally:
            if self._prom_reader is not None:
                await self._prom_reader.aclose()


class PrometheusSource(Entity, type_name="prometheus-source"):
    """Query results without a custom entity class: every query's value in one ``values`` dict.

    Config is a :class:`PrometheusConfig` whose query names are just names.
    ``values`` holds the queries that read (a number, or a dict for queries
    with ``labels``); ``stale_queries`` gives the reason for each that did
    not. When no query reads because Prometheus is unreachable or too slow,
    ``values`` itself is stale.
    """

    @attrs.frozen(kw_only=True)
    class Config(PrometheusConfig):
        """``url`` or ``server``, ``queries`` (name to PromQL or query mapping), ``timeout_s``."""

    values = Sensor(dict, nullable=True, description="query name to value, for the queries that read")
    stale_queries = Sensor(dict, nullable=True, description="query name to why it has no value")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        self._reader = PrometheusReader(self, self.config)
        #: the last reading of each query, by name
        self.readings: dict[str, PromReading] = {}

    async def poll(self) -> None:
        """Run the queries; publish what read and why the rest did not."""
        readings = await self._reader.read()
        self.readings = readings
        good = {n: r.value for n, r in readings.items() if r.reason is None}
        bad = {n: r.reason for n, r in readings.items() if r.reason is not None}
        self.stale_queries.publish(bad)
        down = [r for r in readings.values() if r.category in ("unreachable", "timeout")]
        if readings and len(down) == len(readings):
            self.values.mark_stale(down[0].reason or "unreachable")
        else:
            self.values.publish(good)

    async def on_stop(self) -> None:
        """Close the connection to Prometheus."""
        await self._reader.aclose()


# -- running a Prometheus server ---------------------------------------------------------------


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_taken(host: str, port: int) -> bool:
    """Whether something listens on ``host:port`` (bound as Go binds: SO_REUSEADDR, so TIME_WAIT is no obstacle)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def _target_problem(target: Any) -> str | None:
    """What is wrong with a scrape target (it must be ``host:port``), or None."""
    if not isinstance(target, str):
        return f"a target is a 'host:port' string, got {type(target).__name__} {target!r:.60}"
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"a target is 'host:port' with a port in 1..65535, got {target!r}"
    return None


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path``'s content in one rename, so Prometheus never reads half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _log_tail(path: Path | None) -> str:
    """The end of the server's log, for error messages."""
    if path is None:
        return ""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _LOG_TAIL_BYTES))
            return f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


class PrometheusServerEntity(Entity, type_name="prometheus"):
    """A real Prometheus server (the ``prometheus`` program) scraping the given targets.

    It listens on ``host``:``port`` (a free port when ``port`` is 0), keeps its
    storage in ``data_dir`` (a temporary folder, removed at stop, by default)
    and logs to ``prometheus.log`` there. Targets are in a file_sd file that
    Prometheus watches: :meth:`set_targets` rewrites it and Prometheus follows
    with no reload or restart, within about five seconds (Prometheus batches
    discovery updates every 5 s; the first targets take as long after start).
    It is ready when ``/-/ready`` answers and the server there runs our config
    (a port someone else holds is refused, never mistaken for ours). When the
    entity is part of a running tree, a background task waits on the process,
    so its death sets the entity on fire at once; otherwise :meth:`poll`
    notices it. ``targets_up`` counts the targets whose last scrape worked.
    """

    @attrs.frozen(kw_only=True)
    class Config:
        """Program, address, targets, scrape timing and storage."""

        binary: str = "prometheus"
        host: str = "127.0.0.1"
        #: 0: a free port, chosen at each start
        port: int = 0
        #: scrape targets, ``host:port``
        targets: list[str] = attrs.field(factory=list)
        #: labels added to every target's series
        labels: dict[str, str] = attrs.field(factory=dict)
        job: str = "autonomic"
        metrics_path: str = "/metrics"
        scrape_interval_s: float = 5.0
        #: default: the scrape interval, at most 10 s
        scrape_timeout_s: float | None = None
        evaluation_interval_s: float = 15.0
        #: how often Prometheus re-reads the targets file even if no change was signalled
        file_sd_refresh_s: float = 5.0
        #: more scrape configs, as Prometheus spells them
        extra_scrape_configs: list[dict[str, Any]] = attrs.field(factory=list)
        retention: str = "2h"
        #: None: a temporary folder, removed at stop
        data_dir: str | None = None
        start_timeout_s: float = 30.0
        stop_timeout_s: float = 10.0
        extra_args: list[str] = attrs.field(factory=list)

        def __attrs_post_init__(self) -> None:
            for name in ("scrape_interval_s", "evaluation_interval_s", "file_sd_refresh_s", "start_timeout_s"):
                _positive(name, getattr(self, name))
            if self.scrape_timeout_s is not None:
                _positive("scrape_timeout_s", self.scrape_timeout_s)
                if self.scrape_timeout_s > self.scrape_interval_s:
                    raise ConfigError("scrape_timeout_s must not exceed scrape_interval_s (Prometheus refuses it)")
            if not 0 <= self.port < 65536:
                raise ConfigError(f"port must be in 0..65535, got {self.port}")
            for t in self.targets:
                if (problem := _target_problem(t)) is not None:
                    raise ConfigError(problem)

    url = Sensor(str, nullable=True, description="base URL of the HTTP API")
    targets = Sensor(list, description="scrape targets (host:port) in the targets file")
    targets_up = Sensor(int, nullable=True, description="active targets whose last scrape succeeded")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        self._targets: list[str] = list(self.config.targets)
        self._proc: anyio.abc.Process | None = None
        self._stopping = False
        self._dead = False
        self._dir: Path | None = None
        self._own_dir = False
        self._log_path: Path | None = None
        self._client: PrometheusClient | None = None
        self._port = 0

    # -- files ------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path | None:
        """The folder with the config, targets file, log and storage (None before start)."""
        return self._dir

    @property
    def pid(self) -> int | None:
        """The server process's id, while there is one."""
        return self._proc.pid if self._proc is not None else None

    def _targets_path(self) -> Path:
        assert self._dir is not None
        return self._dir / "targets.json"

    def _targets_text(self) -> str:
        groups = [{"targets": self._targets, "labels": dict(self.config.labels)}] if self._targets else []
        return json.dumps(groups, indent=2)

    def _prometheus_yml(self) -> str:
        c = self.config
        timeout = c.scrape_timeout_s if c.scrape_timeout_s is not None else min(c.scrape_interval_s, 10.0)
        doc = {
            "global": {
                "scrape_interval": _duration(c.scrape_interval_s),
                "scrape_timeout": _duration(timeout),
                "evaluation_interval": _duration(c.evaluation_interval_s),
            },
            "scrape_configs": [
                {
                    "job_name": c.job,
                    "metrics_path": c.metrics_path,
                    "file_sd_configs": [
                        {"files": [str(self._targets_path())], "refresh_interval": _duration(c.file_sd_refresh_s)}
                    ],
                },
                *c.extra_scrape_configs,
            ],
        }
        # JSON is YAML: no YAML writer needed for a generated file.
        return json.dumps(doc, indent=2)

    def _prepare(self) -> IO[bytes]:
        """Make the folder, write the config and targets, open the log (blocking; run in a thread)."""
        if self.config.data_dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="autonomic-prometheus-"))
            self._own_dir = True
        else:
            self._dir = Path(self.config.data_dir)
            self._dir.mkdir(parents=True, exist_ok=True)
            self._own_dir = False
        (self._dir / "data").mkdir(exist_ok=True)
        _write_atomically(self._targets_path(), self._targets_text())
        _write_atomically(self._dir / "prometheus.yml", self._prometheus_yml())
        self._log_path = self._dir / "prometheus.log"
        return self._log_path.open("ab")

    # -- lifecycle ----------------------------------------------------------------------------
    async def on_start(self) -> None:
        """Write the config, start the server and wait until it is ready."""
        binary = shutil.which(self.config.binary)
        if binary is None:
            raise PermanentEffectorError(
                f"{self.config.binary!r} not found (install the Debian package 'prometheus' or set config.binary)"
            )
        self._stopping = False
        self._dead = False
        self._port = self.config.port or _free_port(self.config.host)
        address = f"{self.config.host}:{self._port}"
        url = f"http://{address}"
        if self.config.port and _port_taken(self.config.host, self._port):
            # Found now, it is a clear message; found by the server, it is a race with whoever answers there.
            raise TemporaryEffectorError(f"cannot start prometheus: {address} is already in use")
        log = await anyio.to_thread.run_sync(self._prepare)
        try:
            assert self._dir is not None
            cmd = [
                binary,
                f"--config.file={self._dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self._dir / 'data'}",
                f"--storage.tsdb.retention.time={self.config.retention}",
                f"--web.listen-address={address}",
                *self.config.extra_args,
            ]
            try:
                self._proc = await anyio.open_process(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            finally:
                log.close()  # the child has its own copy
            self.log.info("prometheus_starting", pid=self._proc.pid, url=url, data_dir=str(self._dir))
            self._client = PrometheusClient(url, timeout_s=5.0)
            code = await self._wait_ready(self._proc, self._client)
            if code is not None:
                tail = await anyio.to_thread.run_sync(_log_tail, self._log_path)
                raise TemporaryEffectorError(f"prometheus exited with code {code} while starting:\n{tail}")
        except BaseException:
            await self._terminate()
            await self._cleanup()
            raise
        self.clear_not_up("process")
        self.url.publish(url)
        self.targets.publish(list(self._targets))
        if self.attached:
            self.spawn(self._watch, self._proc, name="prometheus-process")

    async def _wait_ready(self, proc: anyio.abc.Process, client: PrometheusClient) -> int | None:
        """Wait for ``/-/ready``; return the exit code if the process dies first, None when ready."""
        exited: int | None = None
        try:
            with anyio.fail_after(self.config.start_timeout_s):
                async with anyio.create_task_group() as tg:

                    async def died() -> None:
                        nonlocal exited
                        exited = await proc.wait()
                        tg.cancel_scope.cancel()

                    tg.start_soon(died)
                    # Readiness is only told over HTTP, so it is asked for; death is awaited.
                    while True:
                        if await client.ready(timeout_s=1.0) and await self._answers_for_us(client):
                            break
                        await anyio.sleep(0.1)
                    tg.cancel_scope.cancel()
        except TimeoutError:
            tail = await anyio.to_thread.run_sync(_log_tail, self._log_path)
            raise TemporaryEffectorError(
                f"prometheus was not ready within {self.config.start_timeout_s:g} s:\n{tail}"
            ) from None
        return exited

    async def _answers_for_us(self, client: PrometheusClient) -> bool:
        """Whether the server at our address is ours (another one may hold the port until ours gives up)."""
        try:
            flags = await client.flags(timeout_s=1.0)
        except PrometheusError:
            return False
        assert self._dir is not None
        return flags.get("config.file") == str(self._dir / "prometheus.yml")

    async def _watch(self, proc: anyio.abc.Process) -> None:
        """Wait for the process to end; if nobody asked it to, the entity is on fire."""
        code = await proc.wait()
        await self._died(proc, code)

    async def _died(self, proc: anyio.abc.Process, code: int) -> None:
        if proc is not self._proc or self._stopping or self._dead:
            return
        self._dead = True
        tail = await anyio.to_thread.run_sync(_log_tail, self._log_path)
        last = tail.splitlines()[-1] if tail else "(no log)"
        how = f"signal {-code}" if code < 0 else f"code {code}"
        reason = f"prometheus (pid {proc.pid}) exited with {how}; last log line: {last}"
        self.set_not_up("process", reason)
        self.set_lifecycle(Lifecycle.ON_FIRE)
        self.url.mark_stale(reason)
        self.targets_up.mark_stale(reason)

    async def poll(self) -> None:
        """Notice a death (when no task waits on the process) and count the targets that are up."""
        proc = self._proc
        if proc is None or self._stopping:
            return
        if proc.returncode is not None:
            await self._died(proc, proc.returncode)
        if self._dead or self._client is None:
            return
        try:
            active = await self._client.targets()
        except PrometheusError as exc:
            self.targets_up.mark_stale(str(exc))
            return
        self.targets_up.publish(sum(1 for t in active if t.get("health") == "up"))

    async def _terminate(self) -> None:
        """End the process: SIGTERM, then SIGKILL after ``stop_timeout_s``."""
        proc = self._proc
        if proc is None:
            return
        self._stopping = True
        with anyio.CancelScope(shield=True):
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):  # it may have ended since returncode was read
                    proc.send_signal(signal.SIGTERM)
                with anyio.move_on_after(self.config.stop_timeout_s):
                    await proc.wait()
                if proc.returncode is None:
                    self.log.warning("prometheus_kill", pid=proc.pid, after_s=self.config.stop_timeout_s)
                    proc.kill()
            await proc.aclose()
        self._proc = None

    async def _cleanup(self) -> None:
        """Close the client and remove a temporary folder (even when cancelled: nothing may leak)."""
        client, self._client = self._client, None
        folder, own = self._dir, self._own_dir
        self._dir = None
        self._own_dir = False
        with anyio.CancelScope(shield=True):
            if client is not None:
                await client.aclose()
            if folder is not None and own:
                await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))

    async def on_stop(self) -> None:
        """Stop the server and remove its temporary folder."""
        try:
            await self._terminate()
        finally:
            await self._cleanup()
            # A stopped server has no address and no targets up: known facts, not stale readings.
            self.url.publish(None)
            self.targets_up.publish(None)

    # -- targets --------------------------------------------------------------------------------
    @effector(timeout=30, idempotent=True, description="set the scrape targets (host:port)")
    async def set_targets(self, targets: list[str]) -> None:
        """Replace the scrape targets; Prometheus picks up the file without a reload."""
        for t in targets:
            if (problem := _target_problem(t)) is not None:
                raise PermanentEffectorError(problem)
        self._targets = list(dict.fromkeys(targets))
        if self._dir is not None:
            await anyio.to_thread.run_sync(_write_atomically, self._targets_path(), self._targets_text())
        self.targets.publish(list(self._targets))

    def client(self, *, timeout_s: float = 5.0) -> PrometheusClient:
        """A new client for this server's API (close it); raises if the server is not running."""
        if self._proc is None or self.url.stale or not isinstance(self.url.value, str):
            raise RuntimeError(f"{self.id}: prometheus is not running")
        return PrometheusClient(self.url.value, timeout_s=timeout_s)
