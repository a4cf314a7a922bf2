"""Break the shop four ways and watch the supervisor heal it.

    python examples/shop/scenarios.py surge          # a traffic surge: scale out, then back in
    python examples/shop/scenarios.py kill-worker    # kill -9 a worker: restarted or replaced
    python examples/shop/scenarios.py kill-site      # kill -9 the primary site: fail over to the standby
    python examples/shop/scenarios.py failback       # the old primary rejoins as a standby, then takes over again
    python examples/shop/scenarios.py all            # the four, in that order, on one shop

By default each run starts the shop in this process (an
:class:`autonomic.supervisor.Supervisor` on ``blueprint.yaml``, rewritten to
use a temporary run directory and free loopback ports), drives the scenario,
prints what the supervisor did (the actions in its journal) and what was
measured, then stops everything and checks that no process was left behind.
``--attach`` drives a shop that already runs (``autonomic run
examples/shop/blueprint.yaml``, from the repository's root) instead.

What is measured comes from outside the supervisor, as a user would see it:
requests through HAProxy (:mod:`loadgen`), each worker's ``/health``,
HAProxy's runtime API, and the PostgreSQL servers asked directly. The same
functions are the end-to-end tests' (``tests/e2e/test_shop.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs
import httpx
import psycopg
import yaml

from autonomic.blueprint import parse_blueprint
from autonomic.entity import Entity
from autonomic.supervisor import Supervisor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Load, LoadResult, run_load

__all__ = [
    "BLUEPRINT",
    "FailbackResult",
    "KillSiteResult",
    "KillWorkerResult",
    "Layout",
    "Shop",
    "SurgeResult",
    "attach_shop",
    "failback",
    "kill_site",
    "kill_worker",
    "leftover_pids",
    "prepare_blueprint",
    "run_shop",
    "surge",
]

SHOP_DIR = Path(__file__).resolve().parent
BLUEPRINT = SHOP_DIR / "blueprint.yaml"
#: the folder the blueprint keeps its files in (relative to the working directory)
RUN_PREFIX = "examples/shop/.autonomic"
APP = "examples/shop/app.py"


# ---------------------------------------------------------------------------------------------
# The shop's layout, read from the blueprint
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SiteLayout:
    """One site as the blueprint describes it."""

    id: str
    name: str
    db_host: str
    db_port: int
    data_dir: Path
    #: the database's name in its primary's pg_stat_replication
    application_name: str
    #: the role its database is bootstrapped with
    role: str
    #: a rejoin makes the primary wait for this site's database (synchronous replication)
    synchronous: bool


@attrs.frozen(kw_only=True)
class Layout:
    """Where everything is: ports, folders, sites."""

    fabric: str
    lb_port: int
    backend: str
    database_url_file: Path
    store: Path
    sites: tuple[SiteLayout, ...]
    failback: bool

    @property
    def url(self) -> str:
        """The shop, through HAProxy."""
        return f"http://127.0.0.1:{self.lb_port}"

    @property
    def home(self) -> SiteLayout:
        """The site bootstrapped as primary."""
        return next(s for s in self.sites if s.role == "primary")

    def site(self, name_or_id: str) -> SiteLayout:
        """The site called ``name_or_id``."""
        return next(s for s in self.sites if name_or_id in (s.id, s.name))


def _type_is(node: dict[str, Any], *names: str) -> bool:
    return any(str(node.get("type", "")).endswith(n) for n in names)


def read_layout(doc: dict[str, Any], base_dir: Path) -> Layout:
    """The layout of a blueprint document (paths relative to the working directory, the store to ``base_dir``)."""
    root = doc["entity"]
    fabric = root.get("name") or doc.get("name")
    cfg = root.get("config") or {}
    lb_node = next(c for c in root["children"] if _type_is(c, "haproxy", "HAProxyEntity"))
    sites = []
    for node in root["children"]:
        if not _type_is(node, "site", "SiteEntity"):
            continue
        scfg = node.get("config") or {}
        db = next(c for c in node["children"] if c["name"] == scfg.get("database", "db"))
        dcfg = db["config"]
        sites.append(
            SiteLayout(
                id=f"{fabric}/{node['name']}",
                name=node["name"],
                db_host=dcfg.get("host", "127.0.0.1"),
                db_port=int(dcfg.get("port", 5432)),
                data_dir=Path(dcfg["data_dir"]).absolute(),
                application_name=dcfg.get("application_name") or db["name"],
                role=dcfg.get("role", "primary"),
                synchronous=bool(scfg.get("synchronous", False)),
            )
        )
    store = Path((doc.get("store") or {}).get("path", "autonomic.db"))
    return Layout(
        fabric=str(fabric),
        lb_port=int(lb_node["config"]["port"]),
        backend=(lb_node.get("config") or {}).get("backend_name", "app"),
        database_url_file=Path(cfg["database_url_file"]).absolute(),
        store=store if store.is_absolute() else base_dir / store,
        sites=tuple(sites),
        failback=bool((cfg.get("dr") or {}).get("failback", False)),
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_blueprint(text: str, run_dir: Path) -> tuple[str, dict[str, Any]]:
    """The blueprint rewritten for a run in ``run_dir``: its files there, the app by absolute path, free ports.

    Every ``port`` and ``primary_port`` number is mapped to a port free now (the
    same number to the same port, so a standby still finds its primary).
    """
    doc = yaml.safe_load(text)
    ports: dict[int, int] = {}
    app = str((SHOP_DIR / "app.py").resolve())

    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        if isinstance(node, str):
            if node == APP:
                return app
            return node.replace(RUN_PREFIX, str(run_dir))
        if key in ("port", "primary_port") and isinstance(node, int) and not isinstance(node, bool):
            if node not in ports:
                ports[node] = _free_port()
            return ports[node]
        return node

    doc = walk(doc)
    doc["store"] = {**(doc.get("store") or {}), "type": "sqlite", "path": str(run_dir / "shop.db")}
    return yaml.safe_dump(doc, sort_keys=False), doc


# ---------------------------------------------------------------------------------------------
# Looking at a running shop from outside
# ---------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Server:
    """A backend server of HAProxy and what its worker says."""

    name: str
    port: int
    status: str  # HAProxy's: UP, DOWN, MAINT, "no check"...
    pid: int | None  # from the worker's /health (None: no answer)
    healthy: bool  # /health answered 200
    database: str | None


def find_haproxy_socket(port: int) -> Path | None:
    """The admin socket of the HAProxy listening on ``port`` (found from its config file, via /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not args or not args[0].endswith(b"haproxy") or b"-f" not in args:
            continue
        try:
            cfg = Path(args[args.index(b"-f") + 1].decode())
            text = cfg.read_text()
        except (OSError, IndexError):
            continue
        if re.search(rf"^\s*bind\s+\S+:{port}\s*$", text, re.MULTILINE):
            m = re.search(r"^\s*stats socket (\S+)", text, re.MULTILINE)
            if m:
                return Path(m.group(1))
    return None


async def haproxy_command(socket_path: Path, line: str) -> str:
    """One runtime-API command, its answer."""
    chunks = []
    with anyio.fail_after(5):
        async with await anyio.connect_unix(socket_path) as stream:
            await stream.send(line.encode() + b"\n")
            while True:
                try:
                    chunks.append(await stream.receive())
                except anyio.EndOfStream:
                    break
    return b"".join(chunks).decode(errors="replace")


@attrs.define
class Shop:
    """A running shop: its layout, and (in process) the supervisor running it."""

    layout: Layout
    supervisor: Supervisor | None = None
    run_dir: Path | None = None
    _client: httpx.AsyncClient = attrs.field(factory=lambda: httpx.AsyncClient(timeout=1.0))
    _socket: Path | None = None

    @property
    def url(self) -> str:
        """The shop, through HAProxy."""
        return self.layout.url

    def entity(self, entity_id: str) -> Entity | None:
        """An entity of the in-process supervisor's tree (None when attached)."""
        rt = self.supervisor.runtime if self.supervisor is not None else None
        return rt.root.find(entity_id) if rt is not None else None

    # -- HAProxy and the workers ----------------------------------------------------------------
    async def lb_socket(self) -> Path:
        """HAProxy's admin socket."""
        if self._socket is None or not self._socket.exists():
            self._socket = await anyio.to_thread.run_sync(find_haproxy_socket, self.layout.lb_port)
        if self._socket is None:
            raise RuntimeError(f"no HAProxy listens on port {self.layout.lb_port}")
        return self._socket

    async def health(self, port: int) -> dict[str, Any] | None:
        """A worker's /health answer (None: no answer); ``ok`` says whether it was a 200."""
        try:
            response = await self._client.get(f"http://127.0.0.1:{port}/health")
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        return {**(body if isinstance(body, dict) else {}), "ok": response.status_code == 200}

    async def servers(self) -> list[Server]:
        """HAProxy's backend servers, each with its worker's /health answer."""
        text = await haproxy_command(await self.lb_socket(), "show stat")
        rows = list(csv.DictReader(io.StringIO(text.lstrip("# "))))
        out: list[Server] = []
        for r in rows:
            if r.get("pxname") != self.layout.backend or r.get("svname") in ("FRONTEND", "BACKEND"):
                continue
            port = int(r.get("addr", ":0").rsplit(":", 1)[1] or 0)
            h = await self.health(port)
            out.append(
                Server(
                    name=r["svname"],
                    port=port,
                    status=r.get("status", ""),
                    pid=h.get("pid") if h else None,
                    healthy=bool(h and h["ok"]),
                    database=h.get("database") if h else None,
                )
            )
        return out

    # -- the databases, asked directly ------------------------------------------------------
    async def query(self, site: SiteLayout, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` on ``site``'s server (raises when it does not answer)."""
        with anyio.fail_after(3):
            conn = await psycopg.AsyncConnection.connect(
                host=site.db_host, port=site.db_port, user="postgres", dbname="postgres", autocommit=True, connect_timeout=2
            )
            async with conn:
                cur = await conn.execute(sql, params)
                return [tuple(r) for r in await cur.fetchall()]

    async def db_role(self, site: SiteLayout) -> str:
        """``primary`` (answers, takes writes), ``standby`` (in recovery), ``fenced`` or ``down``."""
        try:
            rows = await self.query(site, "SELECT pg_is_in_recovery()")
        except (psycopg.Error, OSError, TimeoutError):
            fenced = site.data_dir.with_name(site.data_dir.name + ".fenced").exists()
            return "fenced" if fenced else "down"
        return "standby" if rows[0][0] else "primary"

    async def db_roles(self) -> dict[str, str]:
        """Every site's database role, asked concurrently."""
        out: dict[str, str] = {}

        async def one(s: SiteLayout) -> None:
            out[s.name] = await self.db_role(s)

        async with anyio.create_task_group() as tg:
            for s in self.layout.sites:
                tg.start_soon(one, s)
        return out

    def sensor_roles(self) -> dict[str, str | None] | None:
        """Every site's ``role`` sensor (in process only; None when attached)."""
        out: dict[str, str | None] = {}
        for s in self.layout.sites:
            e = self.entity(s.id)
            if e is None:
                return None
            out[s.name] = e.sensor_values().get("role")
        return out

    async def primary(self) -> SiteLayout | None:
        """The site whose database takes writes now, if exactly one does."""
        roles = await self.db_roles()
        primaries = [s for s in self.layout.sites if roles[s.name] == "primary"]
        return primaries[0] if len(primaries) == 1 else None

    async def streaming(self, primary: SiteLayout, standby: SiteLayout) -> str | None:
        """The sync_state of ``standby`` streaming from ``primary`` (None: not streaming)."""
        try:
            rows = await self.query(
                primary,
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'",
                (standby.application_name,),
            )
        except (psycopg.Error, OSError, TimeoutError):
            return None
        return str(rows[0][0]) if rows else None

    async def lost_writes(self, acked: list[int], timeout: float = 30) -> list[int]:
        """The acknowledged order ids the current primary does not have."""
        with anyio.fail_after(timeout):
            while True:
                p = await self.primary()
                if p is not None:
                    try:
                        rows = await self.query(p, "SELECT id FROM orders WHERE id = ANY(%s)", (acked,))
                        found = {r[0] for r in rows}
                        return sorted(set(acked) - found)
                    except (psycopg.Error, OSError, TimeoutError):
                        pass
                await anyio.sleep(0.2)

    # -- the journal ----------------------------------------------------------------------------
    async def actions(self, since: float) -> list[dict[str, Any]]:
        """The supervisor's actions requested since ``since`` (wall-clock seconds), oldest first."""
        return await anyio.to_thread.run_sync(self._read_journal, "actions", "requested", since)

    async def rounds(self, since: float, entity: str) -> list[dict[str, Any]]:
        """Rounds of ``entity``'s manager since ``since``."""
        rows = await anyio.to_thread.run_sync(self._read_journal, "rounds", "started", since)
        return [r for r in rows if r.get("entity") == entity]

    def _read_journal(self, table: str, time_col: str, since: float) -> list[dict[str, Any]]:
        path = self.layout.store
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute(f"SELECT doc FROM {table} WHERE {time_col} >= ? ORDER BY seq", (since,)).fetchall()
        finally:
            db.close()
        return [json.loads(r[0]) for r in rows]

    # -- readiness ---------------------------------------------------------------------------
    async def wait_ready(self, timeout: float = 120) -> None:
        """Until the home site is primary with its workers in rotation and the other sites stream from it."""
        last = "nothing yet"
        with anyio.move_on_after(timeout):
            while True:
                try:
                    last = await self._not_ready()
                except (OSError, RuntimeError, TimeoutError, httpx.HTTPError) as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if not last:
                    return
                await anyio.sleep(0.25)
        raise TimeoutError(f"the shop was not ready within {timeout:g} s: {last}")

    async def _not_ready(self) -> str:
        sup = self.supervisor
        if sup is not None and (sup.runtime is None or sup.runtime.root.lifecycle.actual.value != "running"):
            return "the tree is starting"
        p = await self.primary()
        if p is None:
            return f"no single primary: {await self.db_roles()}"
        for s in self.layout.sites:
            if s is not p and await self.streaming(p, s) is None:
                return f"{s.name} is not streaming from {p.name}"
        servers = await self.servers()
        up = [s for s in servers if s.status.startswith("UP") and s.healthy]
        if not up or len(up) < len(servers):
            return f"backend: {[(s.name, s.status, s.healthy) for s in servers]}"
        return ""

    async def aclose(self) -> None:
        """Release the HTTP client."""
        await self._client.aclose()


# ---------------------------------------------------------------------------------------------
# Running a shop
# ---------------------------------------------------------------------------------------------


def leftover_pids(*markers: Path) -> list[int]:
    """Processes whose command line or environment names one of ``markers``, or whose cwd is under one."""
    texts = [str(m).encode() for m in markers]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + b"\0" + (entry / "environ").read_bytes()
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if any(t in blob for t in texts) or any(cwd.is_relative_to(m) for m in markers):
            found.append(int(entry.name))
    return sorted(found)


def _set_up(run_dir: Path | None, blueprint: Path) -> tuple[Path, str, dict[str, Any]]:
    """The run folder (made, open to the servers' OS user) and the blueprint rewritten for it."""
    run_dir = Path(tempfile.mkdtemp(prefix="autonomic-shop-")) if run_dir is None else run_dir
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(run_dir, 0o755)  # the PostgreSQL servers run as their own user and must reach their folders
    text, doc = prepare_blueprint(blueprint.read_text(), run_dir)
    (run_dir / "blueprint.yaml").write_text(text)
    return run_dir, text, doc


@contextlib.asynccontextmanager
async def run_shop(
    run_dir: Path | None = None, *, blueprint: Path = BLUEPRINT, keep: bool = False, ready_timeout: float = 120
) -> AsyncIterator[Shop]:
    """Start the shop in this process, in ``run_dir`` (a new temporary folder by default); stop it on exit.

    On exit the supervisor stops the whole tree; any process left behind is
    killed and reported (``RuntimeError``). The run folder is removed unless
    ``keep``.
    """
    own = run_dir is None
    folder, text, doc = await anyio.to_thread.run_sync(_set_up, run_dir, blueprint)
    bp = parse_blueprint(text, file=str(folder / "blueprint.yaml"), base_dir=SHOP_DIR)
    sup = Supervisor(bp)
    shop = Shop(layout=read_layout(doc, SHOP_DIR), supervisor=sup, run_dir=folder)
    failure: BaseException | None = None
    markers = [folder]
    try:
        async with anyio.create_task_group() as tg:

            async def supervise() -> None:
                nonlocal failure
                try:
                    await sup.run(handle_signals=False)
                except BaseException as exc:  # reported to the caller below
                    failure = exc
                    raise

            tg.start_soon(supervise)
            try:
                await shop.wait_ready(ready_timeout)
                with contextlib.suppress(RuntimeError):
                    markers.append((await shop.lb_socket()).parent)
                yield shop
            finally:
                sup.stop()
    finally:
        await shop.aclose()
        left = leftover_pids(*markers)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if own and not keep:
            shutil.rmtree(folder, ignore_errors=True)
    if failure is not None:
        raise RuntimeError(f"the supervisor failed: {failure!r}") from failure
    if left:
        raise RuntimeError(f"processes outlived the shop (killed now): {left}")


@contextlib.asynccontextmanager
async def attach_shop(blueprint: Path = BLUEPRINT) -> AsyncIterator[Shop]:
    """A shop run by ``autonomic run BLUEPRINT`` from the working directory (the repository's root)."""
    path = await anyio.Path(blueprint).absolute()
    shop = Shop(layout=read_layout(yaml.safe_load(await path.read_text()), Path(path).parent))
    try:
        await shop.wait_ready(10)
        yield shop
    finally:
        await shop.aclose()


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------

#: wall-clock minus monotonic: the journal uses the former, the load generator the latter
def _wall(mono: float) -> float:
    return mono + (time.time() - time.monotonic())


def steps_of(actions: list[dict[str, Any]]) -> list[str]:
    """``target.effector:status`` of each action."""
    return [f"{a['target']}.{a['effector']}:{a['status']}" for a in actions]


def describe_actions(actions: list[dict[str, Any]], t0: float, *, skip: tuple[str, ...] = ()) -> list[str]:
    """One line per action: when (seconds after ``t0``), target.effector(args), outcome, duration, why."""
    lines = []
    for a in actions:
        if a.get("effector") in skip:
            continue
        args = ", ".join(f"{k}={v!r}" for k, v in (a.get("args") or {}).items())
        duration = a.get("duration")
        took = f" {duration:.2f}s" if isinstance(duration, (int, float)) else ""
        error = f" ({a['error'][:100]})" if a.get("error") else ""
        lines.append(
            f"  +{a['requested'] - t0:6.2f}s  {a['target']}.{a['effector']}({args})  {a['status']}{took}{error}"
            f"  <- {str(a.get('reason') or '')[:90]}"
        )
    return lines or ["  (none)"]


@contextlib.asynccontextmanager
async def _sampling(fn: Callable[[], Awaitable[None]], period: float) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            await fn()
            await anyio.sleep(period)

    async with anyio.create_task_group() as tg:
        tg.start_soon(loop)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def _loading(url: str, **kw: Any) -> AsyncIterator[tuple[Load, list[LoadResult]]]:
    load, out = Load(), []

    async def go() -> None:
        out.append(await run_load(url, load=load, **kw))

    async with anyio.create_task_group() as tg:
        tg.start_soon(go)
        try:
            yield load, out
        finally:
            load.stop()


@attrs.frozen(kw_only=True)
class SurgeResult:
    """A traffic surge: how far the web tier grew, and how soon it shrank again."""

    site: str
    before: int
    peak: int
    after: int
    scale_out_s: float | None  # load start -> first extra worker in rotation
    scale_in_s: float | None  # load end -> back to `before`
    load: dict[str, Any]
    actions: list[str]
    #: the actions as ``target.effector:status``, oldest first
    steps: list[str]

    def report(self) -> list[str]:
        """Human-readable lines."""
        return [
            f"surge on {self.site}: workers in rotation {self.before} -> peak {self.peak} -> {self.after}",
            f"  first scale-out {_s(self.scale_out_s)} after the load started; back to {self.before} "
            f"{_s(self.scale_in_s)} after it stopped",
            f"  load: {json.dumps(self.load)}",
            "  actions:",
            *self.actions,
        ]


def _s(v: float | None) -> str:
    return "never" if v is None else f"{v:.1f} s"


async def surge(
    shop: Shop, *, rps: float = 90, duration: float = 15, settle_timeout: float = 60, concurrency: int = 48
) -> SurgeResult:
    """Send ``rps`` for ``duration`` s; watch the primary's web tier scale out, then back in."""
    primary = await shop.primary()
    if primary is None:
        raise RuntimeError("no single primary site")
    t0 = time.time()
    before = len(await shop.servers())
    samples: list[tuple[float, int]] = []

    t_end: float | None = None
    settled = anyio.Event()

    async def sample() -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            now, n = time.time(), len(await shop.servers())
            samples.append((now, n))
            if t_end is not None and now > t_end and n <= before:
                settled.set()

    async with _sampling(sample, 0.5):
        result = await run_load(shop.url, rps=rps, duration=duration, concurrency=concurrency)
        t_end = time.time()
        with anyio.move_on_after(settle_timeout):
            await settled.wait()
    peak = max((n for _, n in samples), default=before)
    out_at = next((t for t, n in samples if n > before), None)
    end = t_end
    in_at = next((t for t, n in samples if t > end and n <= before), None)
    actions = [a for a in await shop.actions(t0) if a["effector"] == "resize"]
    return SurgeResult(
        site=primary.name,
        before=before,
        peak=peak,
        after=samples[-1][1] if samples else before,
        scale_out_s=None if out_at is None else out_at - t0,
        scale_in_s=None if in_at is None else in_at - end,
        load=result.summary(),
        actions=describe_actions(actions, t0),
        steps=steps_of(actions),
    )


@attrs.frozen(kw_only=True)
class KillWorkerResult:
    """A worker killed with SIGKILL: how long until the tier served at full strength again."""

    worker: str
    pid: int
    how: str  # "restarted" (same server, new process) or "replaced" (a new server)
    healthy_s: float | None  # kill -> as many workers answering /health as before
    in_rotation_s: float | None  # kill -> as many UP in HAProxy (answering) as before
    load: dict[str, Any]
    actions: list[str]
    #: the actions as ``target.effector:status``, oldest first
    steps: list[str]

    def report(self) -> list[str]:
        """Human-readable lines."""
        return [
            f"kill -9 {self.worker} (pid {self.pid}): {self.how}",
            f"  serving again (health) after {_s(self.healthy_s)}; back in HAProxy's rotation after "
            f"{_s(self.in_rotation_s)}",
            f"  light load meanwhile: {json.dumps(self.load)}",
            "  actions:",
            *self.actions,
        ]


async def kill_worker(shop: Shop, *, timeout: float = 30, rps: float = 20) -> KillWorkerResult:
    """Kill one worker of the primary site with SIGKILL; time until one serves in its place."""
    servers = [s for s in await shop.servers() if s.healthy and s.pid is not None]
    if not servers:
        raise RuntimeError("no healthy worker to kill")
    victim = servers[0]
    assert victim.pid is not None
    n = len(servers)
    t0 = time.time()
    healthy_at = rotation_at = None
    how = "not back"
    async with _loading(shop.url, rps=rps, duration=timeout + 5) as (load, results):
        await anyio.sleep(1)
        t_kill = time.time()
        os.kill(victim.pid, signal.SIGKILL)
        with anyio.move_on_after(timeout):
            while healthy_at is None or rotation_at is None:
                try:
                    now = await shop.servers()
                except (OSError, RuntimeError, TimeoutError):
                    now = []
                fresh = [s for s in now if s.healthy and s.pid != victim.pid]
                if healthy_at is None and len(fresh) >= n:
                    healthy_at = time.time() - t_kill
                    new = [s for s in fresh if s.name not in {x.name for x in servers}]
                    how = f"replaced by {new[0].name}" if new else f"restarted in place (new pid {next(s.pid for s in fresh if s.name == victim.name)})"
                if rotation_at is None and len([s for s in fresh if s.status.startswith("UP")]) >= n:
                    rotation_at = time.time() - t_kill
                await anyio.sleep(0.05)
        await anyio.sleep(1)
        load.stop()
    await anyio.sleep(0.5)
    actions = await shop.actions(t0)
    return KillWorkerResult(
        worker=victim.name,
        pid=victim.pid,
        how=how,
        healthy_s=healthy_at,
        in_rotation_s=rotation_at,
        load=results[0].summary() if results else {},
        actions=describe_actions(actions, t_kill),
        steps=steps_of(actions),
    )


@attrs.frozen(kw_only=True)
class Samples:
    """Who claimed to be primary, every 100 ms."""

    #: (wall time, primaries by the servers themselves (writable), primaries by the sites' role sensors or None)
    points: list[tuple[float, int, int | None]] = attrs.field(factory=list)

    @property
    def max_writable(self) -> int:
        """Most servers taking writes at once."""
        return max((p[1] for p in self.points), default=0)

    @property
    def max_by_sensor(self) -> int | None:
        """Most sites reporting role primary at once (in process)."""
        values = [p[2] for p in self.points if p[2] is not None]
        return max(values) if values else None

    def none_writable_s(self) -> float:
        """How long no server took writes (sum of sample periods)."""
        total = 0.0
        for a, b in itertools.pairwise(self.points):
            if a[1] == 0:
                total += b[0] - a[0]
        return total

    def summary(self) -> str:
        """One line."""
        by_sensor = "" if self.max_by_sensor is None else f", by the sites' role sensors at most {self.max_by_sensor}"
        return (
            f"{len(self.points)} samples every 100 ms: at most {self.max_writable} server(s) taking writes at once"
            f"{by_sensor}; none took writes for {self.none_writable_s():.1f} s (the outage)"
        )


def _role_sampler(shop: Shop, samples: Samples) -> Callable[[], Awaitable[None]]:
    async def sample() -> None:
        roles = await shop.db_roles()
        sensors = shop.sensor_roles()
        by_sensor = None if sensors is None else sum(1 for r in sensors.values() if r == "primary")
        samples.points.append((time.time(), sum(1 for r in roles.values() if r == "primary"), by_sensor))

    return sample


@attrs.frozen(kw_only=True)
class KillSiteResult:
    """The primary site killed: the failover, its RTO and the writes lost."""

    killed: str
    promoted: str | None
    rto_s: float | None  # kill -> first acknowledged write after it (through HAProxy)
    policy_rto_s: float | None  # what autonomic.dr measured (primary seen down -> repoint done)
    acked_writes: int
    lost_writes: list[int]
    samples: Samples
    load: dict[str, Any]
    actions: list[str]
    #: the actions as ``target.effector:status``, oldest first
    steps: list[str]

    def report(self) -> list[str]:
        """Human-readable lines."""
        return [
            f"kill -9 {self.killed} (PostgreSQL and workers): {self.promoted or 'nothing'} promoted",
            f"  RTO {_s(self.rto_s)} (kill -> first acknowledged write); autonomic.dr measured "
            f"{_s(self.policy_rto_s)} (primary seen down -> repoint done)",
            f"  acknowledged writes {self.acked_writes}, lost {len(self.lost_writes)} {self.lost_writes[:10]}",
            f"  {self.samples.summary()}",
            f"  load: {json.dumps(self.load)}",
            "  actions:",
            *self.actions,
        ]


def _site_pids(site: SiteLayout) -> int | None:
    try:
        return int((site.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


async def kill_site(shop: Shop, *, rps: float = 40, timeout: float = 60, steady_s: float = 3) -> KillSiteResult:
    """Kill the primary site's PostgreSQL and workers with SIGKILL, under a write load; measure the failover."""
    primary = await shop.primary()
    if primary is None:
        raise RuntimeError("no single primary site")
    workers = [s.pid for s in await shop.servers() if s.pid is not None]
    postmaster = _site_pids(primary)
    if postmaster is None:
        raise RuntimeError(f"{primary.name}'s postmaster pid is unknown")
    samples = Samples()
    t0 = time.time()
    promoted = None
    async with (
        _sampling(_role_sampler(shop, samples), 0.1),
        _loading(shop.url, rps=rps, duration=timeout + steady_s + 10) as (load, results),
    ):
        await anyio.sleep(steady_s)
        t_kill_mono, t_kill = time.monotonic(), time.time()
        # The whole site at once: the postmaster's process group (its backends), and the workers.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(postmaster, signal.SIGKILL)
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with anyio.move_on_after(timeout):
            await load.wait_until(lambda outcomes: any(o.ok and o.sent >= t_kill_mono for o in outcomes))
            await anyio.sleep(steady_s)  # writes keep flowing
        load.stop()
    result = results[0]
    first = result.first_ok_after(t_kill_mono)
    lost = await shop.lost_writes(result.acked_ids)
    new = await shop.primary()
    promoted = new.name if new is not None and new is not primary else None
    actions = await shop.actions(t0)
    rto = None
    for r in await shop.rounds(t_kill, shop.layout.fabric):
        value = (r.get("decision") or {}).get("rto_s")
        if isinstance(value, (int, float)):
            rto = float(value)
    return KillSiteResult(
        killed=primary.name,
        promoted=promoted,
        rto_s=None if first is None else first - t_kill_mono,
        policy_rto_s=rto,
        acked_writes=len(result.acked_ids),
        lost_writes=lost,
        samples=samples,
        load=result.summary(),
        actions=describe_actions(actions, t_kill),
        steps=steps_of(actions),
    )


@attrs.frozen(kw_only=True)
class FailbackResult:
    """The old primary rejoining as a standby, and (with ``dr.failback``) taking over again."""

    home: str
    kill_site: KillSiteResult | None  # when the scenario had to fail over first
    rejoined_s: float | None  # scenario start -> home streaming as a standby
    rejoined_sync: str | None  # its sync_state then
    failed_back_s: float | None  # scenario start -> home primary, the other streaming from it
    #: scenario start -> the other sites stream synchronously from home (when configured so)
    synchronous_s: float | None
    failback_gap_s: float | None  # the longest time without an acknowledged write during the switch
    acked_writes: int
    lost_writes: list[int]
    samples: Samples
    actions: list[str]
    #: the actions as ``target.effector:status``, oldest first
    steps: list[str]

    def report(self) -> list[str]:
        """Human-readable lines."""
        lines = [*self.kill_site.report(), ""] if self.kill_site is not None else []
        return [
            *lines,
            f"failback to {self.home}: streaming as a standby ({self.rejoined_sync}) after {_s(self.rejoined_s)}; "
            f"primary again, the other site streaming from it, after {_s(self.failed_back_s)}; "
            f"synchronous again after {_s(self.synchronous_s)}",
            f"  writes: {self.acked_writes} acknowledged, {len(self.lost_writes)} lost; longest gap without an "
            f"acknowledged write {_s(self.failback_gap_s)}",
            f"  {self.samples.summary()}",
            "  actions:",
            *self.actions,
        ]


async def failback(shop: Shop, *, timeout: float = 90, rps: float = 20) -> FailbackResult:
    """Wait for the home site to rejoin as a standby (failing over first if it is still the primary), then,
    when the blueprint says ``dr.failback``, for it to be the primary again with the other site streaming."""
    home = shop.layout.home
    first = None
    if await shop.db_role(home) == "primary":
        first = await kill_site(shop)
    samples = Samples()
    t0 = time.time()
    rejoined_at = failed_back_at = synchronous_at = None
    sync = None
    others = [s for s in shop.layout.sites if s is not home]
    async with (
        _sampling(_role_sampler(shop, samples), 0.1),
        _loading(shop.url, rps=rps, duration=timeout + 10) as (load, results),
    ):
        with anyio.move_on_after(timeout):
            while rejoined_at is None:
                p = await shop.primary()
                if p is not None and p is not home:
                    sync = await shop.streaming(p, home)
                    if sync is not None:
                        rejoined_at = time.time()
                        break
                await anyio.sleep(0.1)
            while shop.layout.failback and synchronous_at is None:
                if await shop.primary() is home:
                    states = [await shop.streaming(home, s) for s in others]
                    if failed_back_at is None and all(st is not None for st in states):
                        failed_back_at = time.time()
                    if all(st == "sync" or (st is not None and not s.synchronous) for st, s in zip(states, others, strict=True)):
                        synchronous_at = time.time()
                        break
                await anyio.sleep(0.1)
            await anyio.sleep(2)  # writes keep flowing
        load.stop()
    result = results[0]
    actions = await shop.actions(t0)
    gap = None
    if rejoined_at is not None:
        acks = sorted(_wall(o.done) for o in result.outcomes if o.ok and _wall(o.done) >= rejoined_at)
        gap = max((b - a for a, b in itertools.pairwise(acks)), default=None)
    return FailbackResult(
        home=home.name,
        kill_site=first,
        rejoined_s=None if rejoined_at is None else rejoined_at - t0,
        rejoined_sync=sync,
        failed_back_s=None if failed_back_at is None else failed_back_at - t0,
        synchronous_s=None if synchronous_at is None else synchronous_at - t0,
        failback_gap_s=gap,
        acked_writes=len(result.acked_ids),
        lost_writes=await shop.lost_writes(result.acked_ids),
        samples=samples,
        actions=describe_actions(actions, t0),
        steps=steps_of(actions),
    )


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

_SCENARIOS: dict[str, Callable[[Shop], Awaitable[Any]]] = {
    "surge": surge,
    "kill-worker": kill_worker,
    "kill-site": kill_site,
    "failback": failback,
}


@contextlib.contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    from autonomic.observability import configure_logging

    with path.open("a", encoding="utf-8") as f:
        configure_logging(json=True, stream=f)
        try:
            yield
        finally:
            configure_logging(json=True, stream=sys.stderr)


async def _main(args: argparse.Namespace) -> int:
    names = list(_SCENARIOS) if args.scenario == "all" else [args.scenario]
    blueprint = Path(args.blueprint)
    if args.attach:
        async with attach_shop(blueprint) as shop:
            for name in names:
                print(f"== {name}", flush=True)
                print("\n".join((await _SCENARIOS[name](shop)).report()), flush=True)
        return 0
    run_dir = Path(args.run_dir) if args.run_dir else Path(tempfile.mkdtemp(prefix="autonomic-shop-"))
    log = run_dir.resolve() / "supervisor.log"
    print(f"starting the shop in {run_dir} (supervisor log: {log})", flush=True)
    started = time.monotonic()
    with _logging_to(log):
        async with run_shop(run_dir, blueprint=blueprint, keep=args.keep or bool(args.run_dir)) as shop:
            print(f"ready in {time.monotonic() - started:.1f} s: {shop.url}", flush=True)
            for name in names:
                print(f"== {name}", flush=True)
                print("\n".join((await _SCENARIOS[name](shop)).report()), flush=True)
            print("stopping the shop", flush=True)
    if not (args.keep or args.run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)
    print("stopped; no process left behind", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one scenario (or all) and print what happened."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("scenario", choices=[*_SCENARIOS, "all"])
    parser.add_argument("--attach", action="store_true", help="drive the shop `autonomic run` runs (from the repo root)")
    parser.add_argument("--blueprint", default=str(BLUEPRINT))
    parser.add_argument("--run-dir", help="run the shop in this folder (kept afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary run folder (logs, journal)")
    args = parser.parse_args(argv)
    return anyio.run(_main, args)


if __name__ == "__main__":
    sys.exit(main())
