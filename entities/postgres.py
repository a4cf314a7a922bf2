"""PostgreSQL servers as entities: a primary and its streaming-replication standbys.

Each :class:`PostgresEntity` owns one real PostgreSQL server: a data directory
and a ``postgres`` postmaster it runs as a child process. The entity bootstraps
the data directory (``initdb`` for a primary, ``pg_basebackup`` from the primary
for a standby), starts and stops the server, reads its state into sensors, and
offers the effectors a failover needs: ``promote``, ``fence``,
``rebuild_as_standby`` and ``set_synchronous``.

The OS user
    PostgreSQL refuses to run as root. Every PostgreSQL program (``initdb``,
    ``postgres``, ``pg_basebackup``, ``pg_rewind``) runs as ``config.os_user``:
    by default the current user, or ``postgres`` when the supervisor runs as
    root. Switching user needs root; the entity switches with the
    ``user``/``group``/``extra_groups`` arguments of :func:`anyio.open_process`
    (``setuid`` in the child, the user's own supplementary groups, nothing of
    root's). The user must exist (Debian's ``postgresql`` package creates
    ``postgres``; elsewhere ``useradd --system postgres``); the entity does not
    create users. The data directory is created (mode 0700) and owned by that
    user, and every folder above it must be traversable by it (a 0700 folder
    owned by root, such as pytest's ``/tmp/pytest-of-root``, is not): the
    entity checks this before running anything and says which folder is in
    the way.

Files
    Beside the data directory ``D``: ``D.log`` (the server's stderr, appended;
    ``config.log_file`` to move it) and ``D.fenced`` (the fence marker, see
    :meth:`PostgresEntity.fence`). They live outside ``D`` so that wiping,
    ``pg_basebackup`` and ``pg_rewind`` never touch them. Inside ``D`` the
    entity writes:

    - ``autonomic.conf``, included at the end of ``postgresql.conf``
      (``include_if_exists``): replication settings (``wal_level = replica``,
      ``wal_log_hints = on`` so ``pg_rewind`` works, ``hot_standby``,
      ``wal_keep_size``, ``recovery_target_timeline = 'latest'``, no Unix
      socket), ``synchronous_standby_names``/``synchronous_commit``, and on a
      standby ``primary_conninfo``/``primary_slot_name``; then
      ``config.settings``. It is written at bootstrap, by ``rebuild_as_standby``
      and by ``set_synchronous``; a plain restart keeps it, because after a
      promotion or a rebuild the data directory, not the config, knows the
      server's role and upstream.
    - ``pg_hba.conf`` (at bootstrap and rebuild)::

          local  all          all                  trust
          host   all          all          samehost trust
          host   all          all      127.0.0.1/32 trust
          host   all          all          ::1/128 trust
          host   replication  <replication_user>  samehost|127.0.0.1/32|::1/128  trust

      Only connections from this host are accepted, with ``trust`` (passwords
      are not checked). When ``replication_password`` is set the replication
      lines use ``scram-sha-256`` instead and the password is put in the
      standby's ``primary_conninfo``. This suits tests and single-host setups;
      a production ``pg_hba.conf`` is the operator's to write after bootstrap.

    Host, port and ``cluster_name`` are given on the ``postgres`` command line,
    so copies of the configuration between servers (``pg_basebackup``,
    ``pg_rewind``) never carry one server's address to another.

Process and death
    The postmaster is a child of the supervisor, in its own session (so signals
    sent to the supervisor's terminal do not reach it, and its process group is
    the postmaster with its backends). When the entity is attached to a runtime
    a background task (:meth:`~autonomic.entity.Entity.spawn`) waits on the
    process: a death the entity did not ask for is noticed at once and makes
    the entity ``on_fire`` and not up (reason ``server``). Unattached there is
    no background task; the death is noticed by the next :meth:`poll`.

Synchronous replication
    ``synchronous: true`` on a server bootstrapped as primary sets
    ``synchronous_standby_names = '*'``: a commit returns only once a standby
    confirms it, as ``synchronous_commit`` says: ``on`` (the default, the
    standby has flushed the commit record to disk, so it survives a failover:
    a promotion replays everything received), ``remote_apply`` (the standby has
    also replayed it, so reads on the standby see it; slower) or
    ``remote_write`` (the standby's OS has it, not its disk). A standby's file
    always says ``synchronous_standby_names = ''``, so a promoted standby
    accepts writes at once (right after a failover there is no standby to wait
    for); call ``set_synchronous(true)`` on it once a standby streams again.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs
import psycopg
from psycopg import sql

from autonomic.effector import effector
from autonomic.entity import Entity
from autonomic.errors import PermanentEffectorError, TemporaryEffectorError
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor

__all__ = ["PostgresEntity", "find_bin_dir", "parse_lsn"]

_PROGRAMS = ("initdb", "postgres", "pg_basebackup", "pg_rewind")
_CONF_FILE = "autonomic.conf"
_INCLUDE_LINE = f"include_if_exists = '{_CONF_FILE}'"
_SLOT_NAME = re.compile(r"[^a-z0-9_]")
#: sensors read by querying the server; stale whenever it does not answer
_QUERY_SENSORS = (
    "in_recovery",
    "replication_lag_bytes",
    "replication_lag_s",
    "wal_lsn",
    "connections",
    "timeline",
    "standbys",
    "synchronous",
)


def parse_lsn(lsn: str) -> int:
    """A WAL position (``'16/B374D848'``) as a byte number."""
    hi, _, lo = lsn.partition("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def find_bin_dir(configured: str | None = None) -> Path:
    """The folder holding the PostgreSQL server programs.

    ``configured`` if given; else the newest ``/usr/lib/postgresql/<major>/bin``
    (Debian's layout); else the folder of ``postgres`` on PATH.
    """
    if configured:
        candidates = [Path(configured)]
    else:
        found = glob.glob("/usr/lib/postgresql/*/bin")
        candidates = [Path(p) for p in sorted(found, key=_major_version, reverse=True)]
        on_path = shutil.which("postgres")
        if on_path:
            # A link on PATH (/usr/local/bin/postgres) may point into the folder holding the rest.
            candidates += [Path(on_path).parent, Path(on_path).resolve().parent]
    for folder in candidates:
        if all(os.access(folder / p, os.X_OK) for p in _PROGRAMS):
            return folder
    where = configured or "/usr/lib/postgresql/*/bin or PATH"
    raise PermanentEffectorError(f"PostgreSQL server programs ({', '.join(_PROGRAMS)}) not found in {where}")


def _major_version(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return -1.0


def _guc_quote(value: str) -> str:
    """A postgresql.conf string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _conninfo_value(value: str) -> str:
    """A libpq connection-string value, quoted when it must be."""
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _conninfo(**params: str | int | None) -> str:
    return " ".join(f"{k}={_conninfo_value(str(v))}" for k, v in params.items() if v is not None)


@attrs.define(eq=False)
class _Server:
    """One run of the postmaster."""

    proc: anyio.abc.Process
    #: set before the entity stops it on purpose, so the watcher does not call it a death
    stopping: bool = False
    #: set once the death was handled (by the watcher or by poll)
    dead: bool = False


def _check_role(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("primary", "standby"):
        raise ValueError(f"{attribute.name} must be 'primary' or 'standby', got {value!r}")


def _check_sync_commit(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("on", "remote_apply", "remote_write"):
        raise ValueError(f"{attribute.name} must be 'on', 'remote_apply' or 'remote_write', got {value!r}")


class PostgresEntity(Entity, type_name="postgres"):
    """One PostgreSQL server, primary or streaming standby (see the module docs for files and the OS user).

    ``on_start`` bootstraps an empty data directory (``initdb`` for a primary;
    ``pg_basebackup`` from ``primary_host:primary_port`` for a standby, through
    a physical replication slot), then starts the postmaster and waits until
    it accepts connections. A data directory that already holds a cluster is
    started as it is (its ``standby.signal`` says whether it is a standby).

    Sensors are read by :meth:`poll` with one connection to the server (and, on
    a standby, one to its primary: the sender in ``pg_stat_wal_receiver``, else
    the configured upstream). A server that does not answer publishes
    ``server_up = false`` and marks the query sensors stale; a server stopped
    on purpose (``stop``, ``fence``) publishes them as null (unknown). ``role``
    and ``fenced`` come from the files when the server is down (the fence
    marker; ``standby.signal``).

    Lag on a standby compares the primary's current position
    (``pg_current_wal_lsn()``) with what the standby holds: the greater of
    ``pg_last_wal_receive_lsn()`` and ``pg_last_wal_replay_lsn()`` (after a
    ``pg_rewind`` the standby replays WAL copied from the new primary, and
    its receive position starts behind that). It is caught up, lag 0 s, once
    its replay position has reached the primary's; an idle, caught-up standby
    thus reads 0, not the age of the last transaction.

    Sensor ``server_up`` is the server answering a query; the framework's own
    ``up`` (the entity status policies see) also goes false with reason
    ``server`` when it does not answer. The sensor is not called ``up`` because
    that name is the entity's status.
    """

    @attrs.frozen(kw_only=True)
    class Config:
        """Where the server lives, its role at bootstrap, and replication settings."""

        #: the data directory (created, mode 0700, owned by ``os_user``)
        data_dir: str
        port: int = 5432
        #: the address the server listens on and is reached at
        host: str = "127.0.0.1"
        #: the role at bootstrap: "primary" (initdb) or "standby" (pg_basebackup from the primary)
        role: str = attrs.field(default="primary", validator=_check_role)
        #: the primary a standby bootstraps from and streams from (host defaults to ``host``)
        primary_host: str | None = None
        primary_port: int | None = None
        #: on a server bootstrapped as primary: commits wait for a standby
        synchronous: bool = False
        #: what a synchronous commit waits for: "on" (standby flushed), "remote_apply", "remote_write"
        synchronous_commit: str = attrs.field(default="on", validator=_check_sync_commit)
        #: the standby's name in the primary's pg_stat_replication, and the server's cluster_name (default: entity name)
        application_name: str | None = None
        #: physical replication slot a standby uses on its primary (default: ``autonomic_<application_name>``;
        #: "" for none)
        replication_slot: str | None = None
        #: folder of initdb, postgres, pg_basebackup, pg_rewind (default: /usr/lib/postgresql/<newest>/bin, else PATH)
        bin_dir: str | None = None
        #: the OS user the server runs as (default: the current user, or "postgres" when running as root)
        os_user: str | None = None
        #: the database superuser (created by initdb; trust auth from this host)
        superuser: str = "postgres"
        #: the role standbys replicate as (created on the primary at bootstrap)
        replication_user: str = "replicator"
        #: its password; None: trust auth for replication from this host
        replication_password: str | None = None
        #: the server's stderr (default: ``<data_dir>.log``)
        log_file: str | None = None
        #: extra server settings written to autonomic.conf (name to value, as in postgresql.conf)
        settings: dict[str, str] = attrs.field(factory=dict)
        #: fsync everything; false (tests only) passes --no-sync to initdb, pg_basebackup and pg_rewind and
        #: runs with fsync = off: still safe when processes die, not when the machine does
        durable: bool = True
        #: seconds to wait for the server to accept connections after it starts
        start_timeout: float = 60.0
        #: seconds a fast shutdown may take before the server is killed
        stop_timeout: float = 30.0
        #: seconds one sensor query (and one connection attempt) may take
        query_timeout: float = 5.0

        def __attrs_post_init__(self) -> None:
            if self.role == "standby" and self.primary_port is None:
                raise ValueError("a standby needs primary_port (and primary_host unless it is host)")
            if not self.data_dir:
                raise ValueError("data_dir must not be empty")

    server_up = Sensor(bool, description="the server answers queries")
    in_recovery = Sensor(bool, nullable=True, description="pg_is_in_recovery(): true on a standby")
    replication_lag_bytes = Sensor(
        int,
        unit="B",
        nullable=True,
        description="standby: WAL its primary has written that this standby holds neither received nor "
        "replayed (stale when the primary is unreachable); primary: the largest such gap over its "
        "streaming standbys (null with none)",
    )
    replication_lag_s = Sensor(
        float,
        unit="s",
        nullable=True,
        description="standby: 0 once it has replayed all its primary wrote, else now() - "
        "pg_last_xact_replay_timestamp() (stale when the primary is unreachable); primary: the "
        "largest replay lag over its streaming standbys, 0 for one that replayed everything",
    )
    wal_lsn = Sensor(str, nullable=True, description="primary: pg_current_wal_lsn(); standby: last replayed LSN")
    connections = Sensor(int, nullable=True, description="client backends connected (the entity's own excluded)")
    role = Sensor(str, description="primary, standby or fenced")
    fenced = Sensor(bool, description="fenced: the server may not run until rebuilt")
    timeline = Sensor(int, nullable=True, description="the WAL timeline the server is on")
    standbys = Sensor(int, nullable=True, description="standbys streaming from this server")
    synchronous = Sensor(bool, nullable=True, description="commits wait for a synchronous standby")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        cfg = self.config
        self.data_dir = Path(cfg.data_dir).absolute()
        self.log_path = Path(cfg.log_file).absolute() if cfg.log_file else self.data_dir.with_name(
            self.data_dir.name + ".log"
        )
        self.fence_path = self.data_dir.with_name(self.data_dir.name + ".fenced")
        self.application_name: str = cfg.application_name or name
        slot = cfg.replication_slot
        self.slot_name: str | None = (
            _SLOT_NAME.sub("_", f"autonomic_{self.application_name}".lower()) if slot is None else (slot or None)
        )
        self._upstream: tuple[str, int] | None = (
            (cfg.primary_host or cfg.host, cfg.primary_port) if cfg.primary_port is not None else None
        )
        self._server: _Server | None = None
        self._lock = anyio.Lock()
        self._bin: Path | None = None
        self._user: pwd.struct_passwd | None = None

    # -- public helpers ------------------------------------------------------------------
    @property
    def postmaster_pid(self) -> int | None:
        """The pid of the postmaster this entity runs (also its process group), or None."""
        s = self._server
        return s.proc.pid if s is not None and s.proc.returncode is None else None

    @property
    def upstream(self) -> tuple[str, int] | None:
        """The primary this server streams from when it is a standby (host, port)."""
        return self._upstream

    @contextlib.asynccontextmanager
    async def connect(self, *, dbname: str = "postgres") -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """An autocommit connection to this server as the superuser (closed on exit)."""
        async with self._connection(self.config.host, self.config.port, dbname=dbname) as conn:
            yield conn

    # -- OS user and processes -------------------------------------------------------------
    def _os_user(self) -> pwd.struct_passwd:
        if self._user is not None:
            return self._user
        me = pwd.getpwuid(os.geteuid())
        name = self.config.os_user or (me.pw_name if os.geteuid() != 0 else "postgres")
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            raise PermanentEffectorError(
                f"OS user {name!r} does not exist: create it (useradd --system {name}) or set os_user"
            ) from None
        if user.pw_uid == 0:
            raise PermanentEffectorError("PostgreSQL cannot run as root: set os_user to an unprivileged user")
        if os.geteuid() not in (0, user.pw_uid):
            raise PermanentEffectorError(
                f"running as {me.pw_name}, the server cannot run as {name!r}: only root can switch users"
            )
        self._user = user
        return user

    def _switching(self) -> bool:
        return self._os_user().pw_uid != os.geteuid()

    def _bin_dir(self) -> Path:
        if self._bin is None:
            self._bin = find_bin_dir(self.config.bin_dir)
        return self._bin

    def _env(self, **extra: str) -> dict[str, str]:
        # PG* variables of the supervisor's environment must not redirect the programs.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        user = self._os_user()
        if self._switching():
            env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
        env["PGCONNECT_TIMEOUT"] = str(max(2, int(self.config.query_timeout)))
        env.update(extra)
        return env

    def _ids(self) -> tuple[int | None, int | None, list[int] | None]:
        """(user, group, extra groups) for a child process: None each when not switching."""
        if not self._switching():
            return None, None, None
        u = self._os_user()
        return u.pw_uid, u.pw_gid, os.getgrouplist(u.pw_name, u.pw_gid)

    async def _run(self, program: str, *args: str, timeout: float, env: dict[str, str] | None = None) -> str:
        """Run a PostgreSQL program as the OS user; its output, or an error naming it."""
        uid, gid, groups = self._ids()
        cmd = [str(self._bin_dir() / program), *args]
        try:
            with anyio.fail_after(timeout):
                res = await anyio.run_process(
                    cmd,
                    check=False,
                    cwd="/",
                    env=env or self._env(),
                    stdin=subprocess.DEVNULL,
                    user=uid,
                    group=gid,
                    extra_groups=groups,
                )
        except TimeoutError:
            raise TemporaryEffectorError(f"{program} did not finish within {timeout:g} s") from None
        out = (res.stdout + res.stderr).decode(errors="replace").strip()
        if res.returncode != 0:
            raise TemporaryEffectorError(f"{program} failed (exit {res.returncode}): {out[-1500:]}")
        return out

    def _check_access(self) -> None:
        """Fail clearly when a folder above the data directory is closed to the OS user."""
        if not self._switching():
            return
        user = self._os_user()
        groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
        for folder in reversed(self.data_dir.parents):
            if not folder.exists():
                break  # created later with the data directory, open to the user
            st = folder.stat()
            if st.st_uid == user.pw_uid:
                ok = bool(st.st_mode & 0o100)
            elif st.st_gid in groups:
                ok = bool(st.st_mode & 0o010)
            else:
                ok = bool(st.st_mode & 0o001)
            if not ok:
                raise PermanentEffectorError(
                    f"OS user {user.pw_name!r} cannot reach {self.data_dir}: {folder} is closed to it "
                    f"(mode {oct(st.st_mode & 0o777)}); open it (chmod o+x) or move data_dir"
                )

    # -- files ---------------------------------------------------------------------------
    def _initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def _prepare_data_dir(self) -> None:
        """Create the data directory (0700, owned by the OS user); it must be empty or a cluster."""
        if not self.data_dir.exists():
            self.data_dir.mkdir(mode=0o700, parents=True)
        if not self._initialized() and any(self.data_dir.iterdir()):
            raise PermanentEffectorError(f"{self.data_dir} is neither empty nor a PostgreSQL data directory")
        self._chown(self.data_dir)
        os.chmod(self.data_dir, 0o700)

    def _chown(self, path: Path) -> None:
        if self._switching():
            u = self._os_user()
            os.chown(path, u.pw_uid, u.pw_gid)

    def _write(self, path: Path, text: str) -> None:
        """Write a file in the data directory, owned by the OS user, mode 0600."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o600)
        self._chown(tmp)
        tmp.replace(path)

    def _wipe(self) -> None:
        for entry in self.data_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _hba_text(self) -> str:
        repl = self.config.replication_user
        method = "scram-sha-256" if self.config.replication_password else "trust"
        lines = [
            "# Written by autonomic (PostgresEntity): only this host may connect.",
            "local  all          all                        trust",
        ]
        for addr in ("samehost", "127.0.0.1/32", "::1/128"):
            lines.append(f"host   all          all          {addr:<14} trust")
        for addr in ("samehost", "127.0.0.1/32", "::1/128"):
            lines.append(f"host   replication  {repl:<12} {addr:<14} {method}")
        return "\n".join(lines) + "\n"

    def _conf_text(self, *, standby_of: tuple[str, int] | None, synchronous: bool) -> str:
        cfg = self.config
        settings: dict[str, str] = {
            "wal_level": "replica",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            "wal_keep_size": _guc_quote("256MB"),
            "wal_log_hints": "on",
            "hot_standby": "on",
            "hot_standby_feedback": "on",
            "recovery_target_timeline": _guc_quote("latest"),
            "unix_socket_directories": _guc_quote(""),
            "synchronous_standby_names": _guc_quote("*" if synchronous else ""),
            "synchronous_commit": cfg.synchronous_commit if synchronous else "on",
        }
        if not cfg.durable:
            settings["fsync"] = "off"
        if standby_of is not None:
            info = _conninfo(
                host=standby_of[0],
                port=standby_of[1],
                user=cfg.replication_user,
                password=cfg.replication_password,
                application_name=self.application_name,
            )
            settings["primary_conninfo"] = _guc_quote(info)
            if self.slot_name:
                settings["primary_slot_name"] = _guc_quote(self.slot_name)
        settings.update(cfg.settings)
        body = "".join(f"{k} = {v}\n" for k, v in settings.items())
        return f"# Written by autonomic (PostgresEntity); rewritten on bootstrap, rebuild and set_synchronous.\n{body}"

    def _write_config(self, *, standby_of: tuple[str, int] | None, synchronous: bool, hba: bool) -> None:
        """Write autonomic.conf (and include it), pg_hba.conf, and standby.signal for a standby."""
        conf = self.data_dir / "postgresql.conf"
        text = conf.read_text()
        if _INCLUDE_LINE not in text:
            self._write(conf, text.rstrip("\n") + f"\n\n{_INCLUDE_LINE}\n")
        self._write(self.data_dir / _CONF_FILE, self._conf_text(standby_of=standby_of, synchronous=synchronous))
        if hba:
            self._write(self.data_dir / "pg_hba.conf", self._hba_text())
            (self.data_dir / "pg_hba.conf.fenced").unlink(missing_ok=True)
        signal_file = self.data_dir / "standby.signal"
        if standby_of is not None:
            self._write(signal_file, "")
        else:
            signal_file.unlink(missing_ok=True)

    def _file_role(self) -> str:
        if self.fence_path.exists():
            return "fenced"
        if self._initialized() and self.lifecycle.actual is not Lifecycle.STARTING:
            return "standby" if (self.data_dir / "standby.signal").exists() else "primary"
        # Starting: a base backup copies PG_VERSION before standby.signal exists, so the
        # files would say "primary" for a moment; the configured role is the truth until then.
        return str(self.config.role)

    # -- connections ---------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _connection(
        self, host: str, port: int, *, dbname: str = "postgres"
    ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        timeout = self.config.query_timeout
        with anyio.fail_after(timeout):
            conn = await psycopg.AsyncConnection.connect(
                host=host,
                port=port,
                user=self.config.superuser,
                dbname=dbname,
                autocommit=True,
                connect_timeout=max(2, int(timeout)),
                application_name="autonomic",
            )
        async with conn:
            yield conn

    async def _query(self, host: str, port: int, query: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        """The first row of ``query`` on ``host:port``, within ``query_timeout``."""
        async with self._connection(host, port) as conn:
            with anyio.fail_after(self.config.query_timeout):
                cur = await conn.execute(query, params)
                row = await cur.fetchone()
        return tuple(row) if row is not None else ()

    # -- server process ------------------------------------------------------------------
    async def _start_server(self) -> None:
        if self.fence_path.exists():
            raise PermanentEffectorError(
                f"{self.id} is fenced ({self.fence_path}): it may not start until rebuild_as_standby"
            )
        await self._kill_stray()
        uid, gid, groups = self._ids()
        cfg = self.config
        cmd = [
            str(self._bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(cfg.port),
            "-c",
            f"listen_addresses={cfg.host}",
            "-c",
            f"cluster_name={self.application_name}",
        ]
        log = await anyio.to_thread.run_sync(self._open_log)
        try:
            proc = await anyio.open_process(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd="/",
                env=self._env(),
                start_new_session=True,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        finally:
            log.close()  # the child has its own descriptor
        server = _Server(proc=proc)
        self._server = server
        self.log.info("postgres_started", pid=proc.pid, port=cfg.port, data_dir=str(self.data_dir))
        try:
            await self._wait_ready(server)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._stop_server()
            raise
        self.clear_not_up("server")
        if self.attached:
            self.spawn(self._watch, server, name="postmaster")

    def _open_log(self) -> Any:
        return self.log_path.open("ab")

    def _log_tail(self, limit: int = 1500) -> str:
        try:
            data = self.log_path.read_bytes()[-limit:]
        except OSError:
            return ""
        return data.decode(errors="replace").strip()

    async def _wait_ready(self, server: _Server) -> None:
        timeout = self.config.start_timeout
        last = ""
        try:
            with anyio.fail_after(timeout):
                while True:
                    if server.proc.returncode is not None:
                        raise PermanentEffectorError(
                            f"postgres exited with code {server.proc.returncode} while starting; log:\n"
                            f"{self._log_tail()}"
                        )
                    try:
                        await self._query(self.config.host, self.config.port, "SELECT 1")
                        return
                    except (psycopg.Error, TimeoutError) as exc:
                        last = str(exc).strip()
                    await anyio.sleep(0.1)
        except TimeoutError:
            raise TemporaryEffectorError(
                f"postgres did not accept connections within {timeout:g} s ({last}); log:\n{self._log_tail()}"
            ) from None

    async def _watch(self, server: _Server) -> None:
        """Wait for the postmaster to exit; an exit nobody asked for is a death."""
        try:
            code = await server.proc.wait()
        finally:
            if server.proc.returncode is None and not server.stopping and self._server is server:
                # Cancelled with the server running: the runtime is going away. Take the server
                # along rather than leave an orphan postmaster behind.
                with anyio.CancelScope(shield=True):
                    try:
                        await self._stop_server()
                        self.set_lifecycle(Lifecycle.STOPPED, expected=Lifecycle.STOPPED)
                        self._publish_down(None)
                    except Exception as exc:  # a background task must never take the runtime down
                        self.report_problem(f"could not stop the server: {exc}")
        self._died(server, code)

    def _died(self, server: _Server, code: int) -> None:
        if server.stopping or server.dead or self._server is not server:
            return
        server.dead = True
        reason = f"postmaster exited with code {code}"
        self.log.error("postgres_died", code=code, pid=server.proc.pid)
        self.report_problem(reason)
        self.set_not_up("server", reason)
        self._publish_down(reason)
        self.set_lifecycle(Lifecycle.ON_FIRE)

    async def _stop_server(self, *, fast_timeout: float | None = None) -> None:
        """Fast shutdown (SIGINT), then SIGKILL of the process group if it takes too long."""
        server = self._server
        if server is None:
            return
        server.stopping = True
        proc = server.proc
        pgid = proc.pid
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            with anyio.move_on_after(fast_timeout if fast_timeout is not None else self.config.stop_timeout):
                await proc.wait()
        # Kill what is left of the group: a postmaster that would not stop, or backends that
        # outlived a killed postmaster (they would still serve their clients).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with anyio.CancelScope(shield=True):
            await proc.wait()
            await self._wait_group_gone(pgid)
        self._server = None
        self.log.info("postgres_stopped", pid=pgid, code=proc.returncode)

    async def _wait_group_gone(self, pgid: int, timeout: float = 5.0) -> None:
        with anyio.move_on_after(timeout):
            while True:
                try:
                    os.killpg(pgid, 0)
                except (ProcessLookupError, PermissionError):
                    return
                await anyio.sleep(0.05)

    async def _kill_stray(self) -> None:
        """Stop a postmaster on the data directory that this entity did not start (or lost)."""
        pid = await anyio.to_thread.run_sync(self._stray_pid)
        if pid is None:
            return
        self.log.warning("postgres_stray_stopped", pid=pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        if not await _wait_pid_exit(pid, self.config.stop_timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await _wait_pid_exit(pid, 5.0)

    def _stray_pid(self) -> int | None:
        """The pid in ``postmaster.pid`` if a postgres process runs there and is not ours."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        if self._server is not None and self._server.proc.pid == pid:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return None  # not running: a stale pid file, which postgres itself handles
        # The postmaster works in its data directory: that tells it from an unrelated process with a reused pid.
        if b"postgres" not in cmdline or Path(cwd) != self.data_dir.resolve():
            return None
        return pid

    # -- bootstrap -------------------------------------------------------------------------
    async def _bootstrap_primary(self) -> None:
        cfg = self.config
        await self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            cfg.superuser,
            "--auth=trust",
            "--locale=C",
            "--encoding=UTF8",
            "--no-instructions",
            *(() if cfg.durable else ("--no-sync",)),
            timeout=120,
        )
        await anyio.to_thread.run_sync(
            lambda: self._write_config(standby_of=None, synchronous=cfg.synchronous, hba=True)
        )
        await self._start_server()
        async with self.connect() as conn:
            # No standby exists yet: a synchronous primary's commit would wait for one forever.
            await conn.execute("SET synchronous_commit = local")
            cur = await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (cfg.replication_user,))
            if await cur.fetchone() is None:
                stmt = sql.SQL("CREATE ROLE {} WITH REPLICATION LOGIN").format(sql.Identifier(cfg.replication_user))
                if cfg.replication_password:
                    stmt = stmt + sql.SQL(" PASSWORD {}").format(sql.Literal(cfg.replication_password))
                await conn.execute(stmt)
        self.log.info("postgres_bootstrapped", role="primary")

    async def _ensure_slot(self, host: str, port: int) -> None:
        if not self.slot_name:
            return
        async with self._connection(host, port) as conn:
            await conn.execute(
                "SELECT pg_create_physical_replication_slot(%s, true)"
                " WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = %s)",
                (self.slot_name, self.slot_name),
            )

    async def _base_backup(self, host: str, port: int) -> None:
        cfg = self.config
        await self._ensure_slot(host, port)
        args = ["-h", host, "-p", str(port), "-U", cfg.replication_user, "-D", str(self.data_dir)]
        args += ["-X", "stream", "-c", "fast", "-w", *(() if cfg.durable else ("--no-sync",))]
        if self.slot_name:
            args += ["-S", self.slot_name]
        extra = {"PGPASSWORD": cfg.replication_password} if cfg.replication_password else {}
        await self._run("pg_basebackup", *args, timeout=600, env=self._env(**extra))
        self.log.info("postgres_base_backup", source=f"{host}:{port}")

    async def _rewind(self, host: str, port: int) -> bool:
        """pg_rewind the data directory to the server at host:port; False if it could not."""
        # A standby's signal file would make the single-user crash recovery pg_rewind runs refuse.
        await anyio.to_thread.run_sync(lambda: (self.data_dir / "standby.signal").unlink(missing_ok=True))
        source = _conninfo(host=host, port=port, user=self.config.superuser, dbname="postgres")
        try:
            out = await self._run(
                "pg_rewind",
                "-D",
                str(self.data_dir),
                f"--source-server={source}",
                *(() if self.config.durable else ("--no-sync",)),
                timeout=600,
            )
        except TemporaryEffectorError as exc:
            self.log.warning("postgres_rewind_failed", error=str(exc))
            return False
        self.log.info("postgres_rewound", source=f"{host}:{port}", output=out[-300:])
        return True

    # -- lifecycle -----------------------------------------------------------------------
    async def on_start(self) -> None:
        """Bootstrap the data directory if it is empty, start the server, wait until it answers."""
        async with self._lock:
            if self._server is not None:
                await self._stop_server()
            await anyio.to_thread.run_sync(self._check_access)
            if self.fence_path.exists():
                raise PermanentEffectorError(
                    f"{self.id} is fenced ({self.fence_path}): it may not start until rebuild_as_standby"
                )
            await anyio.to_thread.run_sync(self._prepare_data_dir)
            if self._initialized():
                await self._start_server()
            elif self.config.role == "primary":
                await self._bootstrap_primary()
            else:
                assert self._upstream is not None  # the config requires primary_port for a standby
                await self._base_backup(*self._upstream)
                await anyio.to_thread.run_sync(
                    lambda: self._write_config(standby_of=self._upstream, synchronous=False, hba=True)
                )
                await self._start_server()
        await self.poll()

    async def on_stop(self) -> None:
        """Fast shutdown of the server (killed after ``stop_timeout``)."""
        async with self._lock:
            await self._stop_server()
        self.clear_not_up("server")
        self._publish_down(None)

    # -- sensors -------------------------------------------------------------------------
    def _publish_down(self, reason: str | None) -> None:
        """The server does not answer: ``reason`` marks the query sensors stale; None (stopped on purpose) unknown."""
        self.server_up.publish(False)
        for name in _QUERY_SENSORS:
            if reason is None:
                self.sensor(name).publish(None)
            else:
                self.sensor(name).mark_stale(reason)
        self._publish_files()

    def _publish_files(self) -> None:
        role = self._file_role()
        self.role.publish(role)
        self.fenced.publish(role == "fenced")

    async def poll(self) -> None:
        """Query the server (and a standby's primary) and publish every sensor."""
        server = self._server
        if server is not None and server.proc.returncode is not None:
            self._died(server, server.proc.returncode)
        if server is None or server.proc.returncode is not None:
            self._publish_down("server not running" if self.lifecycle.expected is Lifecycle.RUNNING else None)
            return
        cfg = self.config
        try:
            async with self._connection(cfg.host, cfg.port) as conn:
                with anyio.fail_after(cfg.query_timeout):
                    values = await self._read_server(conn)
        except (psycopg.Error, TimeoutError, OSError) as exc:
            # Refused connections often mean a postmaster that just died: give its exit a moment
            # to be reaped, so the death is reported as one, not as a server that does not answer.
            with anyio.move_on_after(0.5):
                code = await server.proc.wait()
                self._died(server, code)
                return
            reason = f"not answering: {str(exc).strip() or type(exc).__name__}"
            self.set_not_up("server", reason)
            self._publish_down(reason)
            return
        self.clear_not_up("server")
        self.server_up.publish(True)
        if values["in_recovery"]:
            await self._read_upstream(values)
        for name, value in values.items():
            if name in self._sensors and name != "role":
                if value is _STALE:
                    self.sensor(name).mark_stale("primary unreachable")
                else:
                    self.sensor(name).publish(value)
        self._publish_files()
        if not self.fenced.value:
            self.role.publish("standby" if values["in_recovery"] else "primary")

    async def _read_server(self, conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
        cur = await conn.execute(
            "SELECT pg_is_in_recovery(),"
            " (SELECT count(*) FROM pg_stat_activity"
            "   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()),"
            " current_setting('synchronous_standby_names') <> ''"
        )
        in_recovery, conns, sync = await _one(cur)
        values: dict[str, Any] = {"in_recovery": in_recovery, "connections": int(conns), "synchronous": sync}
        # Lag as a primary sees it: per streaming standby, the WAL it holds neither flushed nor
        # replayed, and how far its replay is behind (replay_lag is NULL once a standby is idle and
        # caught up: 0 then). Replayed counts as held: a standby rewound with the primary's own WAL
        # replays it from disk and reports a flush position only for what it streams afterwards.
        cur = await conn.execute(
            "SELECT count(*),"
            " max(pg_wal_lsn_diff(cur, greatest(flush_lsn, replay_lsn)))::bigint,"
            " max(CASE WHEN replay_lsn >= cur THEN 0 ELSE extract(epoch FROM replay_lag) END)::float8"
            " FROM pg_stat_replication,"
            "  LATERAL (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()"
            "                       ELSE pg_current_wal_lsn() END AS cur) c"
            " WHERE state = 'streaming'"
        )
        count, lag_bytes, lag_s = await _one(cur)
        values["standbys"] = int(count)
        if not in_recovery:
            cur = await conn.execute("SELECT pg_current_wal_lsn()::text, pg_walfile_name(pg_current_wal_lsn())")
            lsn, walfile = await _one(cur)
            values.update(
                wal_lsn=lsn,
                timeline=int(walfile[:8], 16),
                replication_lag_bytes=None if lag_bytes is None else max(0, int(lag_bytes)),
                replication_lag_s=None if lag_s is None else max(0.0, float(lag_s)),
            )
            return values
        cur = await conn.execute(
            "SELECT coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text,"
            " pg_last_wal_replay_lsn()::text,"
            " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,"
            " (SELECT received_tli FROM pg_stat_wal_receiver),"
            " (SELECT sender_host FROM pg_stat_wal_receiver),"
            " (SELECT sender_port FROM pg_stat_wal_receiver),"
            " (SELECT timeline_id FROM pg_control_checkpoint())"
        )
        receive, replay, since_replay, tli, sender_host, sender_port, checkpoint_tli = await _one(cur)
        values.update(
            wal_lsn=replay,
            timeline=int(tli if tli is not None else checkpoint_tli),
            _receive=receive,
            _replay=replay,
            _since_replay=since_replay,
            _sender=(sender_host, int(sender_port)) if sender_host and sender_port else None,
        )
        return values

    async def _read_upstream(self, values: dict[str, Any]) -> None:
        """A standby's lag against its primary's current position (stale when the primary is unreachable)."""
        upstream = values.pop("_sender") or self._upstream
        receive, replay, since_replay = values.pop("_receive"), values.pop("_replay"), values.pop("_since_replay")
        values["replication_lag_bytes"] = _STALE
        values["replication_lag_s"] = _STALE
        if upstream is None:
            return
        try:
            row = await self._query(
                upstream[0],
                upstream[1],
                "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()"
                " ELSE pg_current_wal_lsn() END::text",
            )
        except (psycopg.Error, TimeoutError, OSError):
            return
        if not row or row[0] is None:
            return
        primary = parse_lsn(row[0])
        replayed = parse_lsn(replay) if replay else 0
        # What the standby holds: received, or replayed from WAL that came otherwise (pg_rewind copies
        # the new primary's WAL; the receive position then starts where streaming started, behind it).
        held = max(parse_lsn(receive) if receive else 0, replayed)
        values["replication_lag_bytes"] = max(0, primary - held)
        if replayed >= primary:  # everything the primary wrote is applied here: caught up
            values["replication_lag_s"] = 0.0
        else:
            values["replication_lag_s"] = None if since_replay is None else max(0.0, float(since_replay))

    # -- effectors -----------------------------------------------------------------------
    @effector(timeout=90, idempotent=True, description="promote this standby to primary")
    async def promote(self) -> str:
        """Promote the standby (``pg_promote(wait => true)``); a primary is left as it is."""
        async with self._lock:
            if self.fence_path.exists():
                raise PermanentEffectorError(f"{self.id} is fenced: a fenced server is never promoted")
            if self._server is None or self._server.proc.returncode is not None:
                raise TemporaryEffectorError(f"{self.id}: the server is not running")
            try:
                async with self.connect() as conn:
                    in_recovery, = await _one(await conn.execute("SELECT pg_is_in_recovery()"))
                    if not in_recovery:
                        result = "already primary"
                    else:
                        with anyio.fail_after(75):
                            done, = await _one(await conn.execute("SELECT pg_promote(true, 60)"))
                        if not done:
                            raise TemporaryEffectorError(f"{self.id}: promotion did not finish within 60 s")
                        result = "promoted"
            except (psycopg.Error, TimeoutError) as exc:
                raise TemporaryEffectorError(f"{self.id}: promote failed: {exc}") from exc
            self.log.info("postgres_promote", result=result)
            if result == "promoted":
                self.record_history("role_changes", role="primary", via="promote")
        await self.poll()
        return result

    @effector(timeout=60, idempotent=True, description="stop the server and keep it from accepting writes until rebuilt")
    async def fence(self, reason: str = "fenced") -> None:
        """Stop the server fast and make sure it cannot take writes again until :meth:`rebuild_as_standby`.

        In order: a fast shutdown (SIGINT; its process group is killed after
        10 s, as is any backend a killed postmaster left behind; a postmaster on
        the data directory that the entity did not start is stopped too); the
        marker ``<data_dir>.fenced`` (JSON: time and reason), outside the data
        directory, which makes ``start`` refuse; then, inside the data
        directory, ``standby.signal`` (a server started by hand comes up in
        recovery, which takes no writes) and a ``pg_hba.conf`` rejecting every
        connection (the original is kept as ``pg_hba.conf.fenced``), so even a
        server started outside the entity serves nobody. Only
        ``rebuild_as_standby`` removes all of it. Calling it again does nothing more.
        """
        async with self._lock:
            await self._stop_server(fast_timeout=10)
            await self._kill_stray()
            await anyio.to_thread.run_sync(self._write_fence, reason)
        self.set_not_up("fenced", reason)
        self.set_lifecycle(Lifecycle.STOPPED, expected=Lifecycle.STOPPED)
        self._publish_down(None)
        self.record_history("role_changes", role="fenced", via="fence")
        self.log.warning("postgres_fenced", reason=reason)

    def _write_fence(self, reason: str) -> None:
        if not self.fence_path.exists():
            tmp = self.fence_path.with_name(self.fence_path.name + ".tmp")
            tmp.write_text(json.dumps({"time": self.now(), "reason": reason, "entity": self.id}) + "\n")
            tmp.replace(self.fence_path)
        if not self._initialized():
            return
        hba = self.data_dir / "pg_hba.conf"
        kept = self.data_dir / "pg_hba.conf.fenced"
        if hba.exists() and not kept.exists():
            hba.replace(kept)
        self._write(hba, "# Fenced by autonomic: no connections until rebuilt.\nlocal all all reject\n"
                         "host all all all reject\nhost replication all all reject\n")
        self._write(self.data_dir / "standby.signal", "")

    @effector(timeout=900, idempotent=True, description="make this server a standby of the given primary")
    async def rebuild_as_standby(self, primary_host: str, primary_port: int) -> str:
        """Make this server a streaming standby of ``primary_host:primary_port``.

        Stops the server, then rewinds the data directory to the new primary
        with ``pg_rewind`` (after a ``CHECKPOINT`` there, so its control file
        shows its new timeline); if that is impossible (no cluster here, WAL
        gone, no common history), wipes it and takes a ``pg_basebackup``. Then
        writes the standby configuration (slot created on the new primary),
        removes the fence, starts the server and waits until it answers.
        Returns "rewound" or "base backup". The server is fenced while this
        runs, so a rebuild that fails leaves it fenced, never half-built and
        startable; calling it again is the way out.
        """
        async with self._lock:
            self.set_lifecycle(Lifecycle.STARTING, expected=Lifecycle.RUNNING)
            try:
                method = await self._rebuild(primary_host, primary_port)
            except BaseException:
                self.set_lifecycle(Lifecycle.ON_FIRE)
                raise
            self.clear_not_up("fenced")
            self.set_lifecycle(Lifecycle.RUNNING)
        self.record_history("role_changes", role="standby", via=method, primary=f"{primary_host}:{primary_port}")
        await self.poll()
        return method

    async def _rebuild(self, host: str, port: int) -> str:
        if (host, port) == (self.config.host, self.config.port):
            raise PermanentEffectorError(f"{self.id} cannot be a standby of itself ({host}:{port})")
        await self._stop_server(fast_timeout=10)
        await self._kill_stray()
        await anyio.to_thread.run_sync(self._check_access)
        # Fenced while the data directory is rebuilt: if the rebuild fails half-way, an empty or
        # half-copied directory must never be started (nor bootstrapped afresh as a primary).
        await anyio.to_thread.run_sync(self._write_fence, f"rebuilding as a standby of {host}:{port}")
        try:
            async with self._connection(host, port) as conn:
                await conn.execute("CHECKPOINT")
        except (psycopg.Error, TimeoutError, OSError) as exc:
            raise TemporaryEffectorError(f"the new primary {host}:{port} is unreachable: {exc}") from exc
        await self._ensure_slot(host, port)
        await anyio.to_thread.run_sync(self._prepare_data_dir_for_rebuild)
        method = "rewound"
        if not (self._initialized() and await self._rewind(host, port)):
            method = "base backup"
            await anyio.to_thread.run_sync(self._wipe)
            await self._base_backup(host, port)

        def configure() -> None:
            # Slots this server held as a primary would pin WAL here for standbys that are gone.
            slots = self.data_dir / "pg_replslot"
            if slots.is_dir():
                for entry in slots.iterdir():
                    shutil.rmtree(entry, ignore_errors=True)
            for stale in ("backup_label.old", "postmaster.pid", "pg_hba.conf.fenced"):
                (self.data_dir / stale).unlink(missing_ok=True)
            self._write_config(standby_of=(host, port), synchronous=False, hba=True)

        await anyio.to_thread.run_sync(configure)
        self._upstream = (host, port)
        self.fence_path.unlink(missing_ok=True)
        self.log.info("postgres_rebuilt", method=method, primary=f"{host}:{port}")
        await self._start_server()
        return method

    def _prepare_data_dir_for_rebuild(self) -> None:
        if not self.data_dir.exists():
            self.data_dir.mkdir(mode=0o700, parents=True)
        if not self._initialized():
            self._wipe()
        self._chown(self.data_dir)
        os.chmod(self.data_dir, 0o700)

    @effector(timeout=30, idempotent=True, description="make commits wait for a standby (or stop waiting)")
    async def set_synchronous(self, enabled: bool) -> None:
        """Set ``synchronous_standby_names`` to ``'*'`` (enabled) or ``''`` and reload the server."""
        async with self._lock:
            if self.fence_path.exists():
                raise PermanentEffectorError(f"{self.id} is fenced")
            if not self._initialized():
                raise TemporaryEffectorError(f"{self.id}: no cluster in {self.data_dir} yet")
            standby = (self.data_dir / "standby.signal").exists()
            upstream = self._upstream if standby else None
            await anyio.to_thread.run_sync(
                lambda: self._write_config(standby_of=upstream, synchronous=enabled, hba=False)
            )
            if self._server is not None and self._server.proc.returncode is None:
                try:
                    async with self.connect() as conn:
                        await conn.execute("SELECT pg_reload_conf()")
                except (psycopg.Error, TimeoutError) as exc:
                    raise TemporaryEffectorError(f"{self.id}: reload failed: {exc}") from exc
        await self.poll()


class _Stale:
    """A sensor value that is not known this round (the sensor is marked stale)."""


_STALE = _Stale()


async def _wait_pid_exit(pid: int, timeout: float) -> bool:
    """Wait (on a pidfd, no polling) until process ``pid`` exits; False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        with anyio.move_on_after(timeout):
            await anyio.wait_readable(fd)
            return True
        return False
    finally:
        os.close(fd)


async def _one(cur: psycopg.AsyncCursor[Any]) -> tuple[Any, ...]:
    row = await cur.fetchone()
    if row is None:
        raise psycopg.DataError("the query returned no row")
    return tuple(row)
