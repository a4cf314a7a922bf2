"""The shop's web app: orders in PostgreSQL, over HTTP, with Prometheus metrics.

A deliberately small, real application for the shop example to manage::

    PORT=8001 DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python app.py

Endpoints
    ``GET /health``
        200 ``{"status": "ok", "pid", "port", "database": "host:port"}`` when
        the database answers and takes writes (it is not in recovery); 503
        with the reason otherwise. The load balancer and the supervisor probe it.
    ``POST /orders``
        inserts an order (JSON body ``{"item": str, "qty": int}``, both
        optional) and answers 201 ``{"id": N}`` only after the COMMIT returned:
        an *acknowledged* write. With synchronous replication that means a
        standby has it on disk too. Any failure is a 503 and no id: the write
        was not acknowledged (it may or may not have happened).
    ``GET /orders/count``
        200 ``{"count": N}``.
    ``GET /metrics``
        Prometheus text: ``http_requests_total{method, path, status}``,
        ``http_request_duration_seconds``, ``shop_database_switches_total``.

Where the database is
    ``DATABASE_URL`` (a libpq URL) is read at start. ``DATABASE_URL_FILE``, when
    set, names a file holding the URL that takes precedence and is *followed*:
    before each request the app compares the file's identity (inode, size,
    modification time; one ``stat``) with the last one seen, and on a change
    reads the new URL and drops its pooled connections. The shop's fabric
    entity writes that file (atomically) when it repoints the workers to a new
    primary, so running workers switch at their next request (the health
    probes are requests too) and workers started later read the current one.

Only the standard library's threading HTTP server and psycopg: one thread per
connection, a small pool of database connections shared by the threads.
SIGTERM (and SIGINT) stop the server after the requests in progress.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from psycopg.conninfo import conninfo_to_dict

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["method", "path", "status"], registry=REGISTRY
)
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
SWITCHES = Counter(
    "shop_database_switches", "Times the database URL changed (DATABASE_URL_FILE)", registry=REGISTRY
)

#: the paths metrics are labelled with; anything else is "other" (bounded label values)
_PATHS = frozenset({"/health", "/orders", "/orders/count", "/metrics"})
_POOL_SIZE = 8
_CONNECT_TIMEOUT_S = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id bigserial PRIMARY KEY,
    item text NOT NULL,
    qty integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


class Database:
    """Where the database is (``DATABASE_URL``, or the followed ``DATABASE_URL_FILE``) and a small connection pool."""

    def __init__(self, url: str | None, url_file: str | None) -> None:
        self._env_url = url
        self._file = url_file
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._url = url
        #: bumped on every change of URL: pooled connections of an older generation are closed
        self._generation = 0
        self._idle: queue.LifoQueue[tuple[int, psycopg.Connection[Any]]] = queue.LifoQueue(maxsize=_POOL_SIZE)
        self._schema_generation = -1
        self._follow()

    def _follow(self) -> None:
        """Re-read the URL file if it changed since the last look (one ``stat`` when it did not)."""
        if self._file is None:
            return
        try:
            st = os.stat(self._file)
        except OSError:
            return  # not written yet: keep what we have (DATABASE_URL, or the last URL read)
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        if signature == self._signature:
            return
        with self._lock:
            if signature == self._signature:
                return
            try:
                with open(self._file, encoding="utf-8") as f:
                    url = f.read().strip()
            except OSError:
                return
            self._signature = signature
            if url and url != self._url:
                old = self._url
                self._url = url
                self._generation += 1
                SWITCHES.inc()
                print(f"database switched: {describe(old)} -> {describe(url)}", file=sys.stderr, flush=True)
        self._drop_idle()

    @property
    def url(self) -> str | None:
        """The URL in use now (after following the file)."""
        self._follow()
        return self._url

    def _drop_idle(self) -> None:
        while True:
            try:
                generation, conn = self._idle.get_nowait()
            except queue.Empty:
                return
            if generation == self._generation and not conn.closed:
                with contextlib.suppress(queue.Full):
                    self._idle.put_nowait((generation, conn))
                return
            conn.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection to the current database; a connection that failed is not reused."""
        self._follow()
        url, generation = self._url, self._generation
        if not url:
            raise RuntimeError("no database configured (DATABASE_URL or DATABASE_URL_FILE)")
        conn: psycopg.Connection[Any] | None = None
        while conn is None:
            try:
                g, c = self._idle.get_nowait()
            except queue.Empty:
                break
            if g == generation and not c.closed and not c.broken:
                conn = c
            else:
                c.close()
        if conn is None:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S, application_name="shop")
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok and generation == self._generation and not conn.closed:
                try:
                    self._idle.put_nowait((generation, conn))
                except queue.Full:
                    conn.close()
            else:
                conn.close()

    def ensure_schema(self, conn: psycopg.Connection[Any]) -> None:
        """Create the orders table once per database (a standby is read-only: nothing to do there).

        Not on the health path: a synchronous primary's writes wait for a standby, and
        the workers must be healthy (to start) before the standby site exists.
        """
        generation = self._generation
        if self._schema_generation == generation:
            return
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        if row is None or row[0]:
            return
        with contextlib.suppress(psycopg.errors.UniqueViolation):  # another worker created it at the same moment
            conn.execute(_SCHEMA)
        self._schema_generation = generation

    def close(self) -> None:
        """Close the pooled connections."""
        while True:
            try:
                _, conn = self._idle.get_nowait()
            except queue.Empty:
                return
            conn.close()


def describe(url: str | None) -> str:
    """``host:port`` of a libpq URL (what /health reports as ``database``)."""
    if not url:
        return "none"
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "invalid"
    return f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"


class Handler(BaseHTTPRequestHandler):
    """The shop's endpoints."""

    protocol_version = "HTTP/1.1"  # keep-alive: HAProxy reuses connections to the workers
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK hold the body back ~40 ms on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "shop/1"
    db: Database  # set on the class by main()
    port: int

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: every request is counted in /metrics instead of logged."""

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._status = status

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode() + b"\n")

    def _route(self, method: str) -> None:
        started = time.perf_counter()
        path = self.path.split("?", 1)[0]
        label = path if path in _PATHS else "other"
        self._status = 500
        try:
            if method == "GET" and path == "/health":
                self._health()
            elif method == "POST" and path == "/orders":
                self._create_order()
            elif method == "GET" and path == "/orders/count":
                self._count()
            elif method == "GET" and path == "/metrics":
                self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            else:
                self._json(404, {"error": f"no route for {method} {path}"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left
        finally:
            REQUESTS.labels(method, label, str(self._status)).inc()
            DURATION.labels(label).observe(time.perf_counter() - started)

    def do_GET(self) -> None:
        """GET /health, /orders/count, /metrics."""
        self._route("GET")

    def do_POST(self) -> None:
        """POST /orders."""
        self._route("POST")

    def _unavailable(self, exc: BaseException) -> None:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self._json(503, {"error": "database unavailable", "detail": text[:300], "database": describe(self.db.url)})

    def _health(self) -> None:
        try:
            with self.db.connection() as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        except (psycopg.Error, RuntimeError, OSError) as exc:
            self._unavailable(exc)
            return
        info = {"pid": os.getpid(), "port": self.port, "database": describe(self.db.url)}
        if row is None or row[0]:
            self._json(503, {"status": "database is read-only (in recovery)", **info})
            return
        self._json(200, {"status": "ok", **info})

    def _create_order(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
            item = str(body.get("item", "widget"))[:100]
            qty = int(body.get("qty", 1))
        except (ValueError, TypeError, AttributeError):
            self._json(400, {"error": "body must be JSON like {\"item\": \"widget\", \"qty\": 1}"})
            return
        try:
            with self.db.connection() as conn:
                self.db.ensure_schema(conn)
                # Autocommit: execute returns once the COMMIT is done, and with synchronous
                # replication once the standby has flushed it. Only then is the write acknowledged.
                row = conn.execute("INSERT INTO orders (item, qty) VALUES (%s, %s) RETURNING id", (item, qty)).fetchone()
        except (psycopg.Error, RuntimeError, OSError) as exc:
            self._unavailable(exc)
            return
        assert row is not None
        self._json(201, {"id": row[0]})

    def _count(self) -> None:
        try:
            with self.db.connection() as conn:
                self.db.ensure_schema(conn)
                row = conn.execute("SELECT count(*) FROM orders").fetchone()
        except (psycopg.Error, RuntimeError, OSError) as exc:
            self._unavailable(exc)
            return
        assert row is not None
        self._json(200, {"count": row[0]})


def main() -> int:
    """Serve on 127.0.0.1:$PORT until SIGTERM or SIGINT."""
    port = int(os.environ.get("PORT", "8000"))
    Handler.db = Database(os.environ.get("DATABASE_URL"), os.environ.get("DATABASE_URL_FILE"))
    Handler.port = port
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True

    def stop(signum: int, _frame: Any) -> None:
        # shutdown() waits for serve_forever to return, so it must run in another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"shop listening on 127.0.0.1:{port}, database {describe(Handler.db.url)}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        Handler.db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
