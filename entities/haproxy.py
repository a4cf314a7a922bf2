"""HAProxyEntity: a real HAProxy load balancer, changed only through its runtime API.

The entity writes an HAProxy configuration (one frontend, one backend), checks
it with ``haproxy -c``, and runs ``haproxy -W -db`` (master-worker, in the
foreground) as a child process. Every change after start goes through the
runtime API on a unix socket in the run directory (``stats socket ... level
admin``): servers are added, drained, enabled and deleted without a reload, so
established connections and the worker process survive every change.

Servers are *dynamic servers* (``add server`` / ``del server``), which HAProxy
2.6 (Debian 12's) accepts without ``experimental-mode`` (2.4 required it). They
need a dynamic load-balancing algorithm: ``roundrobin``, ``leastconn``,
``first``, ``random``, or a hashing one, for which the backend is given
``hash-type consistent``; ``static-rr`` is refused at config time. A dynamic
server gets no ``default-server`` settings, so the entity passes the health
check settings on every ``add server`` itself.

Sensors come from ``show stat`` (CSV), read in :meth:`HAProxyEntity.poll`
each monitor round and after every change.

Keeping a backend in step with a cluster
----------------------------------------

:meth:`HAProxyEntity.sync_backend` takes the complete list of servers the
backend should have and adds, moves, re-enables and removes (drain, then
delete) servers to match it. A cluster entity calls it after each resize or
member replacement, with its ready members::

    root = self
    while root.parent is not None:
        root = root.parent
    lb = root.find(self.config.load_balancer)       # e.g. "shop/lb", from the cluster's config
    if isinstance(lb, HAProxyEntity) and lb.up:
        await lb.sync_backend(servers_from_members(self.members()))

:func:`servers_from_members` builds the list: one server per ready member,
named after the member, at the port the member publishes on its ``port``
sensor (a ProcessEntity's) and the host on its ``host`` sensor if it has one,
else ``127.0.0.1``. Because ``sync_backend`` is idempotent it can also be
called on a timer or by a policy (it is an effector taking a list of
``{"name", "host", "port"}`` objects) to repair drift.
"""

from __future__ import annotations

import contextlib
import csv
import io
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs

from autonomic.effector import effector
from autonomic.entity import Entity
from autonomic.errors import EffectorError, PermanentEffectorError, TemporaryEffectorError
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor

__all__ = ["BackendServer", "HAProxyEntity", "ServerState", "servers_from_members"]

# HAProxy's own rule for proxy and server names.
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
# The algorithms that let a backend take dynamic servers as they are.
_DYNAMIC_BALANCE = frozenset({"roundrobin", "leastconn", "first", "random"})
# Hashing algorithms admit dynamic servers only with consistent hashing.
_HASH_BALANCE = frozenset({"source", "uri", "url_param", "hdr", "rdp-cookie", "hash"})
# sun_path is 108 bytes on Linux (104 on BSD): HAProxy cannot bind a longer socket path.
_MAX_SOCKET_PATH = 100
# srv_admin_state bits of "show servers state" (HAProxy's SRV_ADMF_*).
_ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40
_ADMIN_DRAIN = 0x08 | 0x10
_LOG_TAIL = 1500


def _check_name(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not _NAME.match(value):
        raise ValueError(f"{attribute.name} {value!r} must match {_NAME.pattern}")


def _check_port(_: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= 65535:
        raise ValueError(f"{attribute.name} must be a TCP port (1-65535), got {value}")


def _check_host(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    # The host is written into the config file and CLI commands: no room for injection.
    if not value or any(c.isspace() for c in value) or any(c in value for c in "#;\\\"'"):
        raise ValueError(f"{attribute.name} {value!r} is not a host name or address")


def _check_positive(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.frozen(kw_only=True)
class BackendServer:
    """One backend server: its name in HAProxy and where it listens."""

    name: str = attrs.field(validator=_check_name)
    host: str = attrs.field(default="127.0.0.1", validator=_check_host)
    port: int = attrs.field(validator=_check_port)

    @classmethod
    def of(cls, value: Any) -> BackendServer:
        """A server from a :class:`BackendServer`, a ``{"name", "host", "port"}`` mapping or ``(name, host, port)``."""
        if isinstance(value, BackendServer):
            return value
        try:
            if isinstance(value, Mapping):
                unknown = set(value) - {"name", "host", "port"}
                if unknown:
                    raise ValueError(f"unknown keys {sorted(unknown)}")
                return cls(**value)
            if isinstance(value, (list, tuple)) and len(value) == 3:
                name, host, port = value
                return cls(name=name, host=host, port=port)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad backend server {value!r:.80}: {exc}") from None
        raise ValueError(f"a backend server is {{name, host, port}} or (name, host, port), got {value!r:.80}")


def servers_from_members(
    members: Iterable[Entity],
    *,
    port_sensor: str = "port",
    host_sensor: str = "host",
    default_host: str = "127.0.0.1",
    only_ready: bool = True,
) -> list[BackendServer]:
    """The backend servers for a cluster's members, for :meth:`HAProxyEntity.sync_backend`.

    One server per member (only ready ones unless ``only_ready`` is false),
    named after the member, at the value of its ``port_sensor`` and of its
    ``host_sensor`` if it has one (else ``default_host``). Members that have
    not published a port yet are left out: they cannot take traffic.
    """
    out: list[BackendServer] = []
    for m in members:
        if only_ready and not m.ready:
            continue
        port = m.find_sensor(port_sensor)
        if port is None or port.stale or not isinstance(port.value, int):
            continue
        host = m.find_sensor(host_sensor)
        address = host.value if host is not None and not host.stale and isinstance(host.value, str) else default_host
        out.append(BackendServer(name=m.name, host=address, port=port.value))
    return out


@attrs.frozen(kw_only=True)
class ServerState:
    """One server as ``show servers state`` reports it: what sync decisions need."""

    name: str
    addr: str
    port: int
    admin: int

    @property
    def maint(self) -> bool:
        """In maintenance (no traffic, no checks), whatever put it there."""
        return bool(self.admin & _ADMIN_MAINT)

    @property
    def drain(self) -> bool:
        """Drained: out of load balancing, current sessions finishing."""
        return bool(self.admin & _ADMIN_DRAIN)


def _int(row: Mapping[str, str], key: str) -> int | None:
    """A numeric ``show stat`` field; None where HAProxy leaves it empty (not applicable)."""
    value = row.get(key) or ""
    return int(value) if value.lstrip("-").isdigit() else None


def _sum(row: Mapping[str, str], *keys: str) -> int | None:
    values = [_int(row, k) for k in keys]
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _ms(seconds: float) -> int:
    """Seconds as the whole milliseconds HAProxy's timeouts and intervals take (at least 1)."""
    return max(1, round(seconds * 1000))


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself hold spaces.
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


class HAProxyEntity(Entity, type_name="haproxy"):
    """A real HAProxy (master-worker) whose backend is changed through the runtime API only.

    Effectors: ``add_server``, ``remove_server`` (drain, then delete),
    ``drain_server``, ``enable_server``, ``sync_backend`` and the inherited
    ``start``/``stop``/``restart``. None of them reloads HAProxy.

    The process's exit is noticed at once when the entity is attached to a
    runtime (a background task waits on it) and the entity goes on fire.
    Detached (driven directly, as in tests), there is no task group to host
    that waiter, so the exit is noticed at the next :meth:`poll` or runtime-API
    call instead.
    """

    @attrs.frozen(kw_only=True)
    class Config:
        """Where to listen, the backend's initial servers, balancing, health checks and timeouts."""

        #: frontend port (required)
        port: int = attrs.field(validator=_check_port)
        bind_host: str = attrs.field(default="127.0.0.1", validator=_check_host)
        #: holds haproxy.cfg, the admin socket and haproxy.log; a temporary directory if unset
        run_dir: str | None = None
        haproxy_binary: str = "haproxy"
        frontend_name: str = attrs.field(default="main", validator=_check_name)
        backend_name: str = attrs.field(default="app", validator=_check_name)
        #: "http" (per-request balancing and HTTP counters) or "tcp"
        mode: str = attrs.field(default="http", validator=attrs.validators.in_(("http", "tcp")))
        balance: str = attrs.field(default="roundrobin")
        servers: list[BackendServer] = attrs.field(factory=list)
        #: health checks (TCP connect, or HTTP GET ``health_check_path`` when set)
        check: bool = True
        check_interval_s: float = attrs.field(default=2.0, validator=_check_positive)
        check_rise: int = 2
        check_fall: int = 3
        health_check_path: str | None = attrs.field(default=None)
        timeout_connect_s: float = attrs.field(default=5.0, validator=_check_positive)
        timeout_client_s: float = attrs.field(default=30.0, validator=_check_positive)
        timeout_server_s: float = attrs.field(default=30.0, validator=_check_positive)
        #: how long remove_server waits for a drained server's sessions to end before cutting them
        drain_timeout_s: float = attrs.field(default=10.0, validator=attrs.validators.and_(
            _check_positive, attrs.validators.le(90.0)))
        start_timeout_s: float = attrs.field(default=15.0, validator=_check_positive)
        stop_timeout_s: float = attrs.field(default=10.0, validator=_check_positive)
        #: bound on one runtime-API exchange
        api_timeout_s: float = attrs.field(default=5.0, validator=_check_positive)

        @balance.validator
        def _check_balance(self, attribute: attrs.Attribute[str], value: str) -> None:
            algo = re.split(r"[\s(]", value.strip(), maxsplit=1)[0]
            if algo not in _DYNAMIC_BALANCE | _HASH_BALANCE or "\n" in value or "#" in value:
                raise ValueError(
                    f"balance {value!r} cannot take servers added at run time; "
                    f"use one of {', '.join(sorted(_DYNAMIC_BALANCE))} or a hashing algorithm"
                )

        @servers.validator
        def _check_servers(self, attribute: attrs.Attribute[list[BackendServer]], value: list[BackendServer]) -> None:
            names = [s.name for s in value]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate server names: {', '.join(dupes)}")

        @health_check_path.validator
        def _check_path(self, attribute: attrs.Attribute[str | None], value: str | None) -> None:
            if value is not None and (not value.startswith("/") or any(c.isspace() for c in value)):
                raise ValueError(f"health_check_path {value!r} must be a path starting with / without spaces")

    servers = Sensor(dict, nullable=True, description=(
        "backend servers by name: status, sessions, session_rate, requests_total, errors, queue, weight, addr"))
    frontend_sessions = Sensor(int, nullable=True, export=True, description="client sessions open now")
    frontend_request_rate = Sensor(float, unit="1/s", nullable=True, export=True,
                                   description="requests per second over the last second (sessions in tcp mode)")
    frontend_requests_total = Sensor(int, nullable=True, export=True,
                                     description="requests received since start (sessions in tcp mode)")
    frontend_errors = Sensor(int, nullable=True, export=True,
                             description="failed requests since start: client request errors plus 5xx responses")
    backend_up_servers = Sensor(int, nullable=True, export=True,
                                description="servers in rotation (checked up, or unchecked; not drained or in maintenance)")
    backend_queue = Sensor(int, nullable=True, export=True, description="requests waiting for a server")

    _STAT_SENSORS = ("servers", "frontend_sessions", "frontend_request_rate", "frontend_requests_total",
                     "frontend_errors", "backend_up_servers", "backend_queue")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        self._process: anyio.abc.Process | None = None
        self._worker_pid: int | None = None
        # Absolute: the stats socket path goes into the config, where a relative one is misread.
        self._run_dir: Path | None = Path(self.config.run_dir).resolve() if self.config.run_dir is not None else None
        self._own_run_dir = False
        self._stopping = False

    # -- paths and identity --------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        """The directory holding the config, the admin socket and the log (a temporary one is known once started)."""
        if self._run_dir is None:
            raise RuntimeError(f"{self.id}: no run_dir configured and haproxy has not been started")
        return self._run_dir

    @property
    def socket_path(self) -> Path:
        """The runtime API's unix socket."""
        return self.run_dir / "admin.sock"

    @property
    def config_path(self) -> Path:
        """The generated haproxy.cfg."""
        return self.run_dir / "haproxy.cfg"

    @property
    def log_path(self) -> Path:
        """HAProxy's stdout and stderr (alerts, warnings, server state changes)."""
        return self.run_dir / "haproxy.log"

    @property
    def master_pid(self) -> int | None:
        """The pid of the master process while it runs (unchanged by every effector: no reloads)."""
        proc = self._process
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def worker_pid(self) -> int | None:
        """The pid of the worker serving traffic, read when HAProxy came up."""
        return self._worker_pid if self._process is not None else None

    # -- configuration -------------------------------------------------------------------
    def render_config(self, servers: Iterable[tuple[str, str, int]]) -> str:
        """The haproxy.cfg text for ``(name, address, port)`` initial servers."""
        c = self.config
        lines = [
            "global",
            # expose-fd listeners lets a later reload, if an operator does one, take the sockets over.
            f"    stats socket {self.socket_path} mode 600 level admin expose-fd listeners",
            f"    stats timeout {_ms(c.api_timeout_s * 2)}",
            "",
            "defaults",
            f"    mode {c.mode}",
            f"    timeout connect {_ms(c.timeout_connect_s)}",
            f"    timeout client {_ms(c.timeout_client_s)}",
            f"    timeout server {_ms(c.timeout_server_s)}",
            # A request whose server dies before the next check goes to another server.
            "    retries 2",
            "    option redispatch",
            "",
            f"frontend {c.frontend_name}",
            f"    bind {c.bind_host}:{c.port}",
            f"    default_backend {c.backend_name}",
            "",
            f"backend {c.backend_name}",
            f"    balance {c.balance}",
        ]
        if c.balance.split("(")[0].split()[0] in _HASH_BALANCE:
            lines.append("    hash-type consistent")
        if c.check and c.health_check_path:
            lines.append(f"    option httpchk GET {c.health_check_path}")
        for name, address, port in servers:
            lines.append(f"    server {name} {address}:{port}{self._server_args()}")
        return "\n".join(lines) + "\n"

    def _server_args(self) -> str:
        """Per-server keywords, on config lines and on ``add server`` alike (dynamic servers get no defaults)."""
        c = self.config
        if not c.check:
            return ""
        return f" check inter {_ms(c.check_interval_s)} rise {c.check_rise} fall {c.check_fall}"

    @staticmethod
    async def _resolve(host: str) -> str:
        """An IP address for ``host``: dynamic servers are never resolved by HAProxy itself."""
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        try:
            infos = await anyio.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise PermanentEffectorError(f"cannot resolve server host {host!r}: {exc}") from None
        if not infos:
            raise PermanentEffectorError(f"cannot resolve server host {host!r}")
        # Prefer IPv4 so "localhost" means the 127.0.0.1 most services bind, whatever /etc/hosts lists first.
        info = next((i for i in infos if i[0] == socket.AF_INET), infos[0])
        return str(info[4][0])

    # -- lifecycle -----------------------------------------------------------------------
    async def on_start(self) -> None:
        """Write and check the config, start HAProxy, wait until its runtime API answers."""
        await self._terminate()  # a dead or half-started earlier process, if any
        self.clear_not_up("process")
        self._stopping = False
        c = self.config
        if self._run_dir is None:
            self._run_dir = Path(tempfile.mkdtemp(prefix="autonomic-haproxy-"))
            self._own_run_dir = True
        await anyio.Path(self.run_dir).mkdir(parents=True, exist_ok=True)
        if len(str(self.socket_path)) > _MAX_SOCKET_PATH:
            raise PermanentEffectorError(
                f"admin socket path {self.socket_path} is longer than {_MAX_SOCKET_PATH} bytes; use a shorter run_dir"
            )
        binary = shutil.which(c.haproxy_binary)
        if binary is None:
            raise PermanentEffectorError(f"haproxy binary {c.haproxy_binary!r} not found (Debian package haproxy)")
        servers = [(s.name, await self._resolve(s.host), s.port) for s in c.servers]
        await anyio.Path(self.config_path).write_text(self.render_config(servers))
        check = await anyio.run_process([binary, "-c", "-q", "-f", str(self.config_path)], check=False)
        if check.returncode != 0:
            out = (check.stdout + check.stderr).decode(errors="replace").strip()
            raise PermanentEffectorError(f"haproxy rejected {self.config_path}: {out[-_LOG_TAIL:]}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)  # a stale socket would answer nothing and fool the readiness wait
        async with await anyio.open_file(self.log_path, "ab") as log:
            # The child gets its own copy of the descriptor; ours is closed at once.
            proc = await anyio.open_process(
                [binary, "-W", "-db", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log.wrapped,
                stderr=subprocess.STDOUT,
            )
        self._process = proc
        try:
            await self._wait_ready(proc)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._terminate()
            raise
        self.log.info("haproxy_started", master_pid=proc.pid, worker_pid=self._worker_pid, port=c.port)
        if self.attached:
            self.spawn(self._watch, proc, name="haproxy-exit")
        await self._refresh_sensors()

    async def _wait_ready(self, proc: anyio.abc.Process) -> None:
        """Until ``show info`` answers; fail at once if the process exits first."""
        last: Exception | None = None
        try:
            # Real time, not the entity clock: HAProxy boots in wall-clock time.
            with anyio.fail_after(self.config.start_timeout_s):
                while True:
                    if proc.returncode is not None:
                        raise PermanentEffectorError(
                            f"haproxy exited with code {proc.returncode} while starting: {await self._log_tail()}"
                        )
                    if self.socket_path.exists():
                        try:
                            info = await self.command("show info")
                        except (OSError, TimeoutError, anyio.BrokenResourceError) as exc:
                            last = exc
                        else:
                            self._worker_pid = _info_pid(info)
                            return
                    # HAProxy offers no readiness event: probe the socket a few times a second.
                    await anyio.sleep(0.05)
        except TimeoutError:
            raise TemporaryEffectorError(
                f"haproxy's runtime API at {self.socket_path} did not answer within "
                f"{self.config.start_timeout_s}s ({last}): {await self._log_tail()}"
            ) from None

    async def _watch(self, proc: anyio.abc.Process) -> None:
        """Wait for the process to exit; an exit nobody asked for puts the entity on fire."""
        code = await proc.wait()
        if proc is self._process and not self._stopping:
            await self._exited(proc, code)

    async def _exited(self, proc: anyio.abc.Process, code: int) -> None:
        if proc is not self._process:
            return
        self._process = None
        await proc.aclose()
        worker, self._worker_pid = self._worker_pid, None
        # A master killed outright leaves its worker serving (and holding the port) for a while.
        if worker is not None and _alive(worker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
        reason = f"haproxy exited with code {code}"
        self.set_not_up("process", reason)
        self.set_lifecycle(Lifecycle.ON_FIRE)
        self.report_problem(f"{reason}: {await self._log_tail()}")
        self._mark_all_stale(reason)

    async def on_stop(self) -> None:
        """Stop HAProxy (SIGTERM, then SIGKILL after ``stop_timeout_s``) and remove a temporary run dir."""
        self._stopping = True
        with anyio.CancelScope(shield=True):
            await self._terminate()
        # Stopped on purpose: the values are unknown, which is not a problem to report.
        for name in self._STAT_SENSORS:
            self.sensor(name).publish(None)
        if self._own_run_dir and self._run_dir is not None:
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(self.run_dir, ignore_errors=True))
            self._run_dir = None
            self._own_run_dir = False

    async def _terminate(self) -> None:
        """End the master (which ends its worker) and make sure the worker is gone too."""
        proc, self._process = self._process, None
        worker, self._worker_pid = self._worker_pid, None
        if proc is not None:
            if proc.returncode is None:
                proc.terminate()
                try:
                    with anyio.fail_after(self.config.stop_timeout_s):
                        await proc.wait()
                except TimeoutError:
                    self.log.warning("haproxy_kill", master_pid=proc.pid, after_s=self.config.stop_timeout_s)
                    proc.kill()
            await proc.aclose()
        # A killed master cannot stop its worker; the worker notices late, so end it here.
        if worker is not None and _alive(worker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)

    async def _log_tail(self) -> str:
        try:
            data = await anyio.Path(self.log_path).read_bytes()
        except OSError:
            return "(no haproxy.log)"
        return data[-_LOG_TAIL:].decode(errors="replace").strip() or "(haproxy.log is empty)"

    # -- runtime API ---------------------------------------------------------------------
    async def command(self, line: str) -> str:
        """Send one runtime-API command (``;`` separates several) and return HAProxy's answer.

        Raises ``OSError`` when the socket cannot be reached and ``TimeoutError``
        when no complete answer comes within ``api_timeout_s``.
        """
        if "\n" in line:
            raise ValueError("one command line at a time")
        chunks: list[bytes] = []
        # Real time: the other end is a real process, whatever clock the entity runs on.
        with anyio.fail_after(self.config.api_timeout_s):
            async with await anyio.connect_unix(self.socket_path) as stream:
                await stream.send(line.encode() + b"\n")
                # Without "prompt", HAProxy answers and closes: read to the end.
                while True:
                    try:
                        chunks.append(await stream.receive())
                    except anyio.EndOfStream:
                        break
        return b"".join(chunks).decode(errors="replace")

    async def _admin(self, line: str, *, expect: str = "") -> str:
        """Run an admin command from an effector; anything but the expected answer is an error."""
        self._require_running()
        try:
            out = (await self.command(line)).strip()
        except (OSError, TimeoutError, anyio.BrokenResourceError) as exc:
            await self._check_process()
            raise TemporaryEffectorError(f"haproxy runtime API unreachable ({line!r}): {exc}") from None
        if out != expect:
            raise PermanentEffectorError(f"haproxy refused {line!r}: {out}")
        return out

    def _require_running(self) -> None:
        if self._process is None:
            raise TemporaryEffectorError(f"{self.id}: haproxy is not running")

    async def _check_process(self) -> None:
        """Notice an exit without a waiter (detached entity)."""
        proc = self._process
        if proc is not None and proc.returncode is not None and not self._stopping:
            await self._exited(proc, proc.returncode)

    async def server_states(self) -> dict[str, ServerState]:
        """The backend's servers as ``show servers state`` reports them."""
        self._require_running()
        try:
            out = await self.command(f"show servers state {self.config.backend_name}")
        except (OSError, TimeoutError, anyio.BrokenResourceError) as exc:
            await self._check_process()
            raise TemporaryEffectorError(f"haproxy runtime API unreachable: {exc}") from None
        header: list[str] = []
        states: dict[str, ServerState] = {}
        for line in out.splitlines():
            if line.startswith("# "):
                header = line[2:].split()
                continue
            fields = line.split()
            if not header or len(fields) < len(header):
                continue  # the format version line, blank lines
            row = dict(zip(header, fields, strict=False))
            states[row["srv_name"]] = ServerState(
                name=row["srv_name"], addr=row["srv_addr"], port=int(row["srv_port"]), admin=int(row["srv_admin_state"])
            )
        if not header:
            raise PermanentEffectorError(f"unexpected answer to 'show servers state': {out.strip()[:200]}")
        return states

    async def show_stat(self) -> list[dict[str, str]]:
        """``show stat`` as rows keyed by the CSV header (pxname, svname, scur, ...)."""
        out = await self.command("show stat")
        text = out.lstrip("# ")
        return list(csv.DictReader(io.StringIO(text)))

    # -- sensors -------------------------------------------------------------------------
    async def poll(self) -> None:
        """Read ``show stat`` and publish the sensors; notice a dead process."""
        await self._check_process()
        if self._process is None:
            return
        await self._refresh_sensors()

    async def _refresh_sensors(self) -> None:
        try:
            rows = await self.show_stat()
        except (OSError, TimeoutError, anyio.BrokenResourceError) as exc:
            self._mark_all_stale(f"haproxy runtime API unreachable: {exc}")
            return
        c = self.config
        frontend = next((r for r in rows if r.get("pxname") == c.frontend_name and r.get("svname") == "FRONTEND"), None)
        backend = next((r for r in rows if r.get("pxname") == c.backend_name and r.get("svname") == "BACKEND"), None)
        if frontend is None or backend is None:
            self._mark_all_stale(f"show stat has no frontend {c.frontend_name!r} or backend {c.backend_name!r}")
            return
        servers: dict[str, Any] = {}
        up = 0
        for r in rows:
            if r.get("pxname") != c.backend_name or r.get("svname") in ("FRONTEND", "BACKEND"):
                continue
            status = r.get("status", "")
            if status.startswith("UP") or status == "no check":
                up += 1
            servers[r["svname"]] = {
                "status": status,
                "sessions": _int(r, "scur") or 0,
                "session_rate": _int(r, "rate") or 0,
                # Servers have no req_tot: count their HTTP responses (sessions in tcp mode).
                "requests_total": _sum(r, "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
                if c.mode == "http" else (_int(r, "stot") or 0),
                "errors": (_int(r, "econ") or 0) + (_int(r, "eresp") or 0),
                "queue": _int(r, "qcur") or 0,
                "weight": _int(r, "weight") or 0,
                "addr": r.get("addr", ""),
            }
        http = c.mode == "http"
        self.servers.publish(servers)
        self.frontend_sessions.publish(_int(frontend, "scur"))
        self.frontend_request_rate.publish(_int(frontend, "req_rate" if http else "rate"))
        self.frontend_requests_total.publish(_int(frontend, "req_tot" if http else "stot"))
        self.frontend_errors.publish((_int(frontend, "ereq") or 0) + ((_int(frontend, "hrsp_5xx") or 0) if http else 0))
        self.backend_up_servers.publish(up)
        self.backend_queue.publish(_int(backend, "qcur"))

    def _mark_all_stale(self, reason: str) -> None:
        for name in self._STAT_SENSORS:
            self.sensor(name).mark_stale(reason)

    # -- effectors -----------------------------------------------------------------------
    @effector(timeout=30, idempotent=True, description="add a backend server (or move it to host:port) and enable it")
    async def add_server(self, name: str, host: str, port: int) -> None:
        """Make server ``name`` exist at ``host:port`` and take traffic, through the runtime API."""
        try:
            server = BackendServer(name=name, host=host, port=port)
        except ValueError as exc:
            raise PermanentEffectorError(str(exc)) from None
        await self._ensure(server, await self.server_states())
        await self._refresh_sensors()

    async def _ensure(self, server: BackendServer, states: Mapping[str, ServerState]) -> str | None:
        """Add, move or enable ``server``; return what was done (None: nothing)."""
        b = self.config.backend_name
        addr = await self._resolve(server.host)
        current = states.get(server.name)
        if current is None:
            await self._admin(f"add server {b}/{server.name} {addr}:{server.port}{self._server_args()}",
                              expect="New server registered.")
            # Dynamic servers start in maintenance with their checks off.
            if self.config.check:
                await self._admin(f"enable health {b}/{server.name}")
            await self._admin(f"set server {b}/{server.name} state ready")
            self.log.info("haproxy_server_added", server=server.name, addr=f"{addr}:{server.port}")
            return "added"
        done = None
        if (current.addr, current.port) != (addr, server.port):
            await self._set_addr(server.name, addr, server.port)
            done = "moved"
        if current.maint or current.drain:
            await self._admin(f"set server {b}/{server.name} state ready")
            done = done or "enabled"
        return done

    async def _set_addr(self, name: str, addr: str, port: int) -> None:
        line = f"set server {self.config.backend_name}/{name} addr {addr} port {port}"
        self._require_running()
        try:
            out = (await self.command(line)).strip()
        except (OSError, TimeoutError, anyio.BrokenResourceError) as exc:
            raise TemporaryEffectorError(f"haproxy runtime API unreachable ({line!r}): {exc}") from None
        # Success is a sentence saying what changed ("... changed from ..." / "no need to change ...").
        if "changed from" not in out and not out.startswith("no need to change"):
            raise PermanentEffectorError(f"haproxy refused {line!r}: {out}")

    @effector(timeout=120, idempotent=True, description="drain a backend server, then delete it")
    async def remove_server(self, name: str) -> None:
        """Drain ``name`` (no new requests), wait for its sessions to end, then delete it; absent is fine."""
        if name not in await self.server_states():
            return
        await self._remove(name)
        await self._refresh_sensors()

    async def _remove(self, name: str) -> None:
        b = self.config.backend_name
        await self._admin(f"set server {b}/{name} state drain")
        if not await self._wait_idle(name):
            self.log.warning("haproxy_drain_timeout", server=name, after_s=self.config.drain_timeout_s)
        await self._admin(f"set server {b}/{name} state maint")
        await self._admin(f"shutdown sessions server {b}/{name}")
        # Deletion is refused while connections are still being torn down: try a little longer.
        last = ""
        with anyio.move_on_after(5.0):
            while True:
                try:
                    await self._admin(f"del server {b}/{name}", expect="Server deleted.")
                    self.log.info("haproxy_server_removed", server=name)
                    return
                except PermanentEffectorError as exc:
                    last = str(exc)
                    if "connection" not in last:
                        raise
                await anyio.sleep(0.1)
        raise TemporaryEffectorError(f"server {name} is in maintenance but could not be deleted: {last}")

    async def _wait_idle(self, name: str) -> bool:
        """Until ``name`` has no sessions and no queue; False if ``drain_timeout_s`` passes first."""
        with anyio.move_on_after(self.config.drain_timeout_s):
            while True:
                try:
                    rows = await self.show_stat()
                except (OSError, TimeoutError, anyio.BrokenResourceError) as exc:
                    raise TemporaryEffectorError(f"haproxy runtime API unreachable: {exc}") from None
                row = next((r for r in rows if r.get("pxname") == self.config.backend_name
                            and r.get("svname") == name), None)
                if row is None or not (_int(row, "scur") or _int(row, "qcur")):
                    return True
                # HAProxy has no "server idle" event: look again shortly.
                await anyio.sleep(0.1)
        return False

    @effector(timeout=30, idempotent=True, description="stop sending new requests to a backend server")
    async def drain_server(self, name: str) -> None:
        """Take ``name`` out of load balancing; its current sessions finish."""
        await self._known(name)
        await self._admin(f"set server {self.config.backend_name}/{name} state drain")
        await self._refresh_sensors()

    @effector(timeout=30, idempotent=True, description="put a drained or disabled backend server back in rotation")
    async def enable_server(self, name: str) -> None:
        """Put ``name`` back in load balancing (its health checks resume)."""
        await self._known(name)
        await self._admin(f"set server {self.config.backend_name}/{name} state ready")
        await self._refresh_sensors()

    async def _known(self, name: str) -> None:
        if name not in await self.server_states():
            raise PermanentEffectorError(f"backend {self.config.backend_name} has no server {name!r}")

    @effector(timeout=300, idempotent=True, description="make the backend's servers exactly the given list")
    async def sync_backend(self, servers: list[Any]) -> dict[str, Any]:
        """Add, move, enable and remove servers so the backend holds exactly ``servers``.

        Each item is ``{"name", "host", "port"}``, ``(name, host, port)`` or a
        :class:`BackendServer`. Servers not listed are drained, then deleted
        (concurrently). Returns the names ``added``, ``moved``, ``enabled`` and
        ``removed``.
        """
        try:
            wanted = [BackendServer.of(s) for s in servers]
        except ValueError as exc:
            raise PermanentEffectorError(str(exc)) from None
        names = [s.name for s in wanted]
        if len(set(names)) != len(names):
            raise PermanentEffectorError(f"duplicate server names in {names}")
        states = await self.server_states()
        report: dict[str, list[str]] = {"added": [], "moved": [], "enabled": [], "removed": []}
        for s in wanted:
            done = await self._ensure(s, states)
            if done is not None:
                report[done].append(s.name)
        victims = sorted(set(states) - set(names))
        errors: list[str] = []

        async def remove(name: str) -> None:
            try:
                await self._remove(name)
                report["removed"].append(name)
            except EffectorError as exc:
                errors.append(f"{name}: {exc}")

        async with anyio.create_task_group() as tg:
            for name in victims:
                tg.start_soon(remove, name)
        await self._refresh_sensors()
        if errors:
            raise TemporaryEffectorError("could not remove " + "; ".join(errors))
        return report


def _info_pid(info: str) -> int | None:
    """The worker's pid from ``show info``."""
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key == "Pid" and value.strip().isdigit():
            return int(value.strip())
    return None


