"""Sites and fabrics: the entities ``autonomic.dr`` expects, built on real servers.

A **fabric** (:class:`FabricEntity`, type ``fabric``) holds the sites and the
load balancer (an :class:`~autonomic.entities.haproxy.HAProxyEntity`). A
**site** (:class:`SiteEntity`, type ``site``) holds a database (a
:class:`~autonomic.entities.postgres.PostgresEntity`, primary or streaming
standby) and a web tier (:class:`WebTierEntity`, type ``web-tier``: a cluster
of workers). The names of sensors and effectors are those of
``docs/policies/dr.md``::

    shop (fabric)          primary_site, database_url | repoint(site), sync_traffic()
      lb (haproxy)
      site-a (site)        role, reachable, fenced, health_signals, replication_lag_s,
        db (postgres)        replication_lag_bytes, promoted_at, lag_basis
        web (web-tier)     | fence(), promote(), rejoin_as_standby(primary)
          worker-0 ...
      site-b (site)
        ...

How the workers find the database
    The fabric writes the primary's libpq URL (``config.database_url`` with
    ``{host}`` and ``{port}`` of the primary site's database) to the file
    ``config.database_url_file``, atomically. Workers are started with
    ``DATABASE_URL_FILE`` naming it and follow it: they compare the file's
    identity before each request and reconnect when it changed (see
    ``examples/shop/app.py``). So **repoint** is: write the file, put the new
    site's workers in the load balancer, and wait until one of them answers
    ``/health`` with the new database; workers started later (a scale-out, a
    replacement, a site rejoining) read the current file. No worker restarts,
    no reload of HAProxy.

Keeping the load balancer in step
    The load balancer's backend holds the workers of the primary site's web
    tier, named ``<site>.<member>``. The fabric sets it at start and on
    ``repoint``; a :class:`WebTierEntity` calls the fabric after each
    ``resize`` and ``replace_member`` (a member leaving is drained out of the
    backend before it is stopped). Members in the backend are checked by
    HAProxy itself (``health_check_path``), so a worker that dies and is
    restarted on its port leaves and rejoins the rotation without a sync.

Health signals
    A site's ``health_signals`` describe its health, not its role, as the DR
    policy asks: ``database`` is true when the site's server answers queries,
    or when it was stopped on purpose (fenced) and its data directory is
    intact; ``web`` is true when the web tier has a ready worker, or was
    stopped on purpose. A killed site thus shows both failing (the workers'
    ``/health`` checks the database, so they go unready with it), while a
    standby whose workers point at a dead primary still has a healthy
    database; with the default quorum (a strict majority) that is not down.

Replication lag (the data-loss bound)
    On a standby, ``replication_lag_s`` and ``replication_lag_bytes`` are the
    data a promotion now would lose. When the primary's ``pg_stat_replication``
    listed this standby as ``sync`` (streaming, synchronous), and as its only
    synchronous candidate, at a check less than ``sync_max_age_s`` ago, every
    commit the primary acknowledged is already on this standby's disk (the
    primary cannot acknowledge one without it), so the site reports 0 and 0
    with ``lag_basis = "synchronous"``; this holds when the primary has just
    died, which is when a failover asks. (It assumes nobody made the primary
    asynchronous behind the supervisor's back since that check.) Otherwise the lag is what the database
    entity measured against its primary (``lag_basis = "measured"``), and
    unknown (null, ``"unknown"``) when the primary cannot be reached: the DR
    policy then refuses to promote unless told to ``force``.

Reachability
    On one machine the supervisor is every site's control plane: ``fence`` is
    a local operation that always reaches the site, so ``reachable`` is true
    while the site entity runs.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict

from autonomic.effector import effector
from autonomic.entities.cluster import ClusterEntity
from autonomic.entities.haproxy import BackendServer, HAProxyEntity
from autonomic.entities.postgres import PostgresEntity
from autonomic.entity import Entity
from autonomic.errors import EffectorError, PermanentEffectorError, TemporaryEffectorError
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor

__all__ = ["FabricEntity", "SiteEntity", "WebTierEntity", "bootstrap_role", "run_all", "url_host_port"]

#: how often the repoint looks again for a worker that answers with the new database
_WORKER_CHECK_PERIOD_S = 0.1


def bootstrap_role(db: PostgresEntity) -> str:
    """The role ``db`` has on disk: ``fenced``, ``standby``, ``primary``, or its configured role before bootstrap."""
    if db.fence_path.exists():
        return "fenced"
    if (db.data_dir / "PG_VERSION").exists():
        return "standby" if (db.data_dir / "standby.signal").exists() else "primary"
    return str(db.config.role)


def _expected_running(e: Entity) -> bool:
    return e.lifecycle.expected is Lifecycle.RUNNING


def _stopped_on_purpose(e: Entity) -> bool:
    """Stopped, or never started, by choice: not meant to be running."""
    return e.lifecycle.expected in (Lifecycle.STOPPED, Lifecycle.CREATED)


class WebTierEntity(ClusterEntity, type_name="web-tier"):
    """A site's web tier: a cluster whose load-balancer backend follows its members.

    ``resize`` and ``replace_member`` work as the cluster's do, and tell the
    fabric afterwards, which puts the members in the load balancer when this
    tier's site is the primary. A member that leaves is drained out of the
    backend *before* it is stopped. A tier stopped on purpose (its site was
    fenced) refuses to resize, and replaces a member without starting the
    new one (it starts with the tier), so nothing runs in a fenced site.
    """

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        # The count wanted is known before the first start: the scaling policy need not wait for it.
        self.replicas.publish(self.config.initial_size)

    def _fabric(self) -> FabricEntity | None:
        site = self.parent
        fabric = site.parent if site is not None else None
        return fabric if isinstance(fabric, FabricEntity) else None

    def _require_running(self) -> None:
        if not _expected_running(self):
            raise PermanentEffectorError(
                f"{self.id} is {self.lifecycle.actual.value} (expected {self.lifecycle.expected.value}): "
                "a stopped web tier is neither resized nor repaired"
            )

    async def _tell_fabric(self, leaving: frozenset[str] = frozenset()) -> None:
        fabric = self._fabric()
        if fabric is not None:
            await fabric.tier_changed(self, leaving=leaving)

    @effector(timeout=600, idempotent=True, cooldown=0, description="set the member count")
    async def resize(self, replicas: int) -> None:
        """Grow or shrink to ``replicas`` members; the load balancer follows (leavers drained first)."""
        self._require_running()
        if replicas < 0:
            raise PermanentEffectorError(f"replicas must be >= 0, got {replicas}")
        before = len(self.children)
        cap = self.config.max_size
        target = replicas if cap is None else min(replicas, cap)
        failed: EffectorError | None = None
        if target > before:
            new = [self._new_member() for _ in range(target - before)]
            try:
                await run_all([m.start for m in new], what=f"{self.id}: new members did not start")
            except EffectorError as exc:
                failed = exc  # those that started serve: publish and sync them, then fail
        elif target < before:
            # Unready members go first, then the newest (as the ReplicaSet controller does).
            order = sorted(self.children, key=lambda m: (m.ready, -self.children.index(m)))
            victims = order[: before - target]
            try:
                await self._tell_fabric(leaving=frozenset(m.name for m in victims))
            except EffectorError as exc:
                # Still shrink: the members stop either way, the backend is set again below.
                self.report_problem(f"could not drain {[m.name for m in victims]} first: {exc}")
            try:
                await run_all([m.stop for m in victims], what=f"{self.id}: members did not stop")
            finally:
                for m in victims:
                    self.remove_child(m.name)
        after = len(self.children)
        self.replicas.publish(after)
        if after != before:
            self.record_history("scale_events", change=after - before)
        await self._tell_fabric()
        if failed is not None:
            raise failed
        if target < replicas:
            self.capacity_high_water_mark.publish(after)
            raise PermanentEffectorError(f"insufficient capacity: asked for {replicas} members, reached {after}")

    @effector(timeout=600, idempotent=False, description="replace a member: start a new one, then drain and stop the old")
    async def replace_member(self, id: str) -> str:  # noqa: A002 - the contract's parameter name
        """Start a replacement for member ``id``; once it runs, drain ``id`` out of the backend, stop and remove it.

        In a tier stopped on purpose (a fenced site) the replacement is made but
        not started: it starts with the tier.
        """
        old = self.find(id)
        if old is None or old.parent is not self:
            raise PermanentEffectorError(f"{id} is not a member of {self.id}")
        if not _expected_running(self):
            await old.stop()
            self.remove_child(old.name)
            new = self._new_member()
            self.replicas.publish(len(self.children))
            return new.id
        new = self._new_member()
        await new.start()
        if not _expected_running(self):
            # The site was fenced while the replacement started: nothing may run there.
            await new.stop()
            raise PermanentEffectorError(f"{self.id} was stopped while {new.id} started")
        if new.lifecycle.actual is not Lifecycle.RUNNING:
            raise PermanentEffectorError(f"replacement {new.id} did not reach running")
        try:
            await self._tell_fabric(leaving=frozenset({old.name}))
        except EffectorError as exc:
            self.report_problem(f"could not drain {old.name} before stopping it: {exc}")
        try:
            await old.stop()
        finally:
            self.remove_child(old.name)
        self.replicas.publish(len(self.children))
        await self._tell_fabric()
        return new.id


class SiteEntity(Entity, type_name="site"):
    """One site of a fabric: a database and a web tier, with the sensors and effectors of ``autonomic.dr``.

    ``config.database`` and ``config.web`` name the children. Starting a site
    starts its database, then its web tier (whose workers need the
    database); a fenced site starts neither (only ``rejoin_as_standby`` brings
    it back). Stopping stops the web tier, then the database.

    Sensors are published when the fabric's manager polls the site (it polls
    its children each round) and after each effector.
    """

    @attrs.frozen(kw_only=True)
    class Config:
        """The children's names and the replication settings."""

        #: the child PostgresEntity
        database: str = "db"
        #: the child web tier (None: a site without one)
        web: str | None = "web"
        #: this site's database is a synchronous standby when it is one: a rejoin makes the primary wait for it
        synchronous: bool = False
        #: how recent the primary's word that this standby is synchronous must be to vouch for "no data loss"
        #: (it must outlast a failover's detection and grace: the word is last heard when the primary dies)
        sync_max_age_s: float = 300.0
        #: seconds a rejoin waits for the standby to stream before making the primary synchronous again
        rejoin_sync_timeout_s: float = 60.0
        #: seconds one query to another server may take
        query_timeout_s: float = 3.0

    role = Sensor(str, description="primary, standby, fenced or rejoining (the database's role as the site reports it)")
    reachable = Sensor(bool, description="fence() can reach the site: true while the site entity runs")
    fenced = Sensor(bool, description="the site's database is fenced (takes no writes until rebuilt)")
    health_signals = Sensor(dict, description="database and web health, true = healthy (not the role)")
    replication_lag_s = Sensor(float, unit="s", nullable=True, description="data a promotion now would lose, in seconds (null: unknown)")
    replication_lag_bytes = Sensor(int, unit="B", nullable=True, description="data a promotion now would lose, in bytes (null: unknown)")
    lag_basis = Sensor(str, description="synchronous (confirmed sync standby), measured, unknown, or none (not a standby)")
    promoted_at = Sensor(float, nullable=True, description="when the site's database was last promoted")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        self._rejoining = False
        #: when the primary last listed this standby as synchronous and streaming (None: not, or not lately)
        self._sync_seen_at: float | None = None
        self.promoted_at.publish(None)
        self.reachable.publish(False)

    # -- children ------------------------------------------------------------------------------
    @property
    def database(self) -> PostgresEntity:
        """The site's database entity."""
        db = self._children.get(self.config.database)
        if not isinstance(db, PostgresEntity):
            raise PermanentEffectorError(f"{self.id} has no PostgresEntity child {self.config.database!r}")
        return db

    @property
    def web(self) -> ClusterEntity | None:
        """The site's web tier, if it has one."""
        if self.config.web is None:
            return None
        tier = self._children.get(self.config.web)
        if not isinstance(tier, ClusterEntity):
            raise PermanentEffectorError(f"{self.id} has no cluster child {self.config.web!r}")
        return tier

    def _fabric(self) -> FabricEntity | None:
        return self.parent if isinstance(self.parent, FabricEntity) else None

    # -- lifecycle -----------------------------------------------------------------------------
    @effector(timeout=600, idempotent=True, description="start the database, then the web tier")
    async def start(self) -> None:
        """Start the database, then the web tier; a fenced site starts neither."""
        if self.lifecycle.actual is Lifecycle.RUNNING:
            return
        self.set_lifecycle(Lifecycle.STARTING, expected=Lifecycle.RUNNING)
        try:
            await self.on_start()
            db, tier = self.database, self.web
            if bootstrap_role(db) == "fenced":
                self.log.warning("site_fenced_at_start", database=db.id)
            else:
                # The database entity checks that every folder above its data directory is open to
                # its OS user, so they must exist first: create them as this (the site's) folder.
                await anyio.to_thread.run_sync(lambda: db.data_dir.parent.mkdir(mode=0o755, parents=True, exist_ok=True))
                await db.start()
                if tier is not None:
                    await tier.start()
            await run_all([c.start for c in self.children if c is not db and c is not tier], what=f"{self.id}: start")
        except BaseException:
            self.set_lifecycle(Lifecycle.ON_FIRE)
            raise
        self.set_lifecycle(Lifecycle.RUNNING)
        await self._refresh()

    @effector(timeout=300, idempotent=True, description="stop the web tier, then the database")
    async def stop(self) -> None:
        """Stop the web tier first (its workers use the database), then the rest."""
        if self.lifecycle.actual is Lifecycle.STOPPED:
            return
        self.set_lifecycle(Lifecycle.STOPPING, expected=Lifecycle.STOPPED)
        self.reachable.publish(False)
        try:
            tier = self.web
            if tier is not None:
                await tier.stop()
            await run_all([c.stop for c in self.children if c is not tier], what=f"{self.id}: stop")
            await self.on_stop()
        except BaseException:
            self.set_lifecycle(Lifecycle.ON_FIRE)
            raise
        self.set_lifecycle(Lifecycle.STOPPED)

    # -- sensors -------------------------------------------------------------------------------
    async def poll(self) -> None:
        """Poll the database (nobody else does), then publish the site's sensors (once the site has started)."""
        if self.lifecycle.actual is not Lifecycle.RUNNING:
            # Half-started, a database's files say little (in the middle of a base backup a
            # standby's directory looks like a primary's): the sensors stay unknown until started.
            return
        await self.database.poll()
        await self._refresh(polled=True)

    async def _refresh(self, *, polled: bool = False) -> None:
        """Publish every sensor from the children's current state (querying the primary when a standby)."""
        db, tier = self.database, self.web
        values = db.sensor_values()
        if self._rejoining:
            role = "rejoining"
        else:
            role = values["role"] if isinstance(values["role"], str) else bootstrap_role(db)
        fenced = values["fenced"] is True or role == "fenced"
        self.role.publish(role)
        self.fenced.publish(fenced)
        self.reachable.publish(self.lifecycle.actual is Lifecycle.RUNNING)

        db_ok = values["server_up"] is True or (
            fenced and _stopped_on_purpose(db) and (db.data_dir / "PG_VERSION").exists()
        )
        signals: dict[str, bool] = {"database": db_ok}
        if tier is not None:
            ready = tier.sensor_values().get("ready_members")
            signals["web"] = (isinstance(ready, int) and ready > 0) or _stopped_on_purpose(tier)
        self.health_signals.publish(signals)

        if role == "standby" and values["in_recovery"] is True:
            await self._standby_lag(db, values, check=polled)
        elif role == "primary":
            self.replication_lag_s.publish(values["replication_lag_s"])
            self.replication_lag_bytes.publish(values["replication_lag_bytes"])
            self.lag_basis.publish("measured")
            self._sync_seen_at = None
        else:
            # Fenced, rejoining, or a standby whose own server does not answer: nothing to promote now.
            self.replication_lag_s.publish(None)
            self.replication_lag_bytes.publish(None)
            self.lag_basis.publish("unknown" if role == "standby" else "none")
            self._sync_seen_at = None

    async def _standby_lag(self, db: PostgresEntity, values: dict[str, Any], *, check: bool) -> None:
        if check:
            state = await self._sync_state(db)
            if state is not None:
                # The primary answered: its word replaces the last one.
                self._sync_seen_at = self.now() if state == "sync" else None
        seen = self._sync_seen_at
        if seen is not None and self.now() - seen <= self.config.sync_max_age_s:
            # Every commit the primary acknowledged was flushed here first: nothing acknowledged is lost.
            self.replication_lag_s.publish(0.0)
            self.replication_lag_bytes.publish(0)
            self.lag_basis.publish("synchronous")
            return
        lag_s, lag_bytes = values["replication_lag_s"], values["replication_lag_bytes"]
        self.replication_lag_s.publish(lag_s)
        self.replication_lag_bytes.publish(lag_bytes)
        self.lag_basis.publish("measured" if lag_s is not None and lag_bytes is not None else "unknown")

    async def _sync_state(self, db: PostgresEntity) -> str | None:
        """``sync`` when the primary lists this standby as a streaming synchronous one, ``async`` when as
        something else or not at all; None when the primary cannot be asked."""
        upstream = db.upstream
        if upstream is None:
            return None
        try:
            row = await self._query(
                upstream[0],
                upstream[1],
                db.config.superuser,
                "SELECT (SELECT sync_state FROM pg_stat_replication"
                "         WHERE application_name = %s AND state = 'streaming' LIMIT 1),"
                " (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'potential', 'quorum'))",
                (db.application_name,),
            )
        except (psycopg.Error, OSError, TimeoutError):
            return None
        # Only the sole candidate vouches for every acknowledged commit: with another one, the primary
        # could have gone on acknowledging with it after this standby fell behind.
        return "sync" if row is not None and row[0] in ("sync", "quorum") and row[1] == 1 else "async"

    async def _query(self, host: str, port: int, user: str, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        timeout = self.config.query_timeout_s
        with anyio.fail_after(timeout):
            conn = await psycopg.AsyncConnection.connect(
                host=host,
                port=port,
                user=user,
                dbname="postgres",
                autocommit=True,
                connect_timeout=max(2, int(timeout)),
                application_name="autonomic-site",
            )
            async with conn:
                row = await (await conn.execute(query, params)).fetchone()
        return tuple(row) if row is not None else None

    # -- effectors -----------------------------------------------------------------------------
    @effector(timeout=90, idempotent=True, description="fence the site: fence its database, stop its web tier")
    async def fence(self) -> None:
        """Make sure the site takes no writes and no traffic: fence the database, stop the workers.

        Both at once; the database's fence (stop, marker, reject-all
        ``pg_hba.conf``) is what guarantees no writes, and it must succeed.
        """
        db, tier = self.database, self.web

        async def fence_db() -> None:
            await db.fence(f"fenced by {self.id}")

        steps = [fence_db] + ([tier.stop] if tier is not None else [])
        try:
            await run_all(steps, what=f"{self.id}: fence incomplete")
        finally:
            await self._refresh()
        self.log.warning("site_fenced", role=self.role.value)

    @effector(timeout=120, idempotent=True, description="promote the site's database to primary")
    async def promote(self) -> str:
        """Promote the standby database; make sure the web tier runs. Returns the database's answer."""
        db, tier = self.database, self.web
        result = await db.promote()
        if result == "promoted":
            self.promoted_at.publish(self.now())
        self._sync_seen_at = None
        if tier is not None and tier.lifecycle.actual is not Lifecycle.RUNNING:
            await tier.start()
        await self._refresh()
        self.log.warning("site_promoted", result=result)
        return str(result)

    @effector(timeout=900, idempotent=True, description="rebuild the site as a standby of the primary site")
    async def rejoin_as_standby(self, primary: str) -> str:
        """Rebuild the database as a standby of site ``primary``'s, start the web tier, and (with
        ``config.synchronous``) make the primary wait for this standby again once it streams."""
        fabric = self._fabric()
        other = fabric.find(primary) if fabric is not None else None
        if not isinstance(other, SiteEntity) or other is self:
            raise PermanentEffectorError(f"{primary!r} is not another site of {fabric.id if fabric else 'the fabric'}")
        source = other.database
        db, tier = self.database, self.web
        self._rejoining = True
        self.role.publish("rejoining")
        try:
            method = await db.rebuild_as_standby(source.config.host, source.config.port)
        finally:
            self._rejoining = False
        self.log.warning("site_rejoined", primary=primary, method=method)
        if tier is not None and tier.lifecycle.actual is not Lifecycle.RUNNING:
            try:
                await tier.start()
            except Exception as exc:  # the database is a standby now: that was the job
                self.report_problem(f"web tier did not start after the rejoin: {exc}")
        if self.config.synchronous:
            await self._make_primary_wait(source, db)
        await self.poll()
        return str(method)

    async def _make_primary_wait(self, primary: PostgresEntity, standby: PostgresEntity) -> None:
        """Once the standby streams, make the primary's commits wait for it again (synchronous replication)."""
        query = "SELECT count(*) FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'"
        pc = primary.config
        with anyio.move_on_after(self.config.rejoin_sync_timeout_s):
            while True:
                try:
                    row = await self._query(pc.host, pc.port, pc.superuser, query, (standby.application_name,))
                except (psycopg.Error, OSError, TimeoutError):
                    row = None
                if row is not None and row[0]:
                    break
                # A standby connecting has no event the primary would send us: look again shortly.
                await anyio.sleep(0.2)
            await primary.set_synchronous(True)
            self.log.info("site_synchronous_again", primary=primary.id, standby=standby.id)
            return
        self.report_problem(
            f"{standby.id} did not stream from {primary.id} within {self.config.rejoin_sync_timeout_s:g} s: "
            "the primary stays asynchronous"
        )


class FabricEntity(Entity, type_name="fabric"):
    """Sites and a load balancer; the one primary site takes the traffic (see the module docs).

    Starting starts the load balancer and the primary site first (the one
    whose database is a primary on disk, or is configured ``role: primary``
    before bootstrap), then the other sites (a standby bootstraps from the
    primary), then points the workers and the load balancer at the primary.
    ``config.dr`` is the ``autonomic.dr`` policy's block, passed through.
    """

    @attrs.frozen(kw_only=True)
    class Config:
        """The load balancer's name, where the workers read the database URL, and the DR policy's block."""

        #: the child HAProxyEntity
        load_balancer: str = "lb"
        #: the primary's URL; {host} and {port} are those of the primary site's database
        database_url: str = "postgresql://postgres@{host}:{port}/postgres"
        #: the file the fabric writes the primary's URL to (workers follow it: DATABASE_URL_FILE)
        database_url_file: str
        #: seconds repoint waits for a worker of the new site to answer with the new database
        repoint_timeout_s: float = 20.0
        #: seconds one worker health check may take
        probe_timeout_s: float = 1.0
        dr: dict[str, Any] = attrs.field(factory=dict)

    primary_site = Sensor(str, nullable=True, description="the id of the site taking the traffic")
    database_url = Sensor(str, nullable=True, description="the database URL the workers are pointed at")
    backend = Sensor(list, description="the load balancer's backend servers (site.member)")

    def __init__(self, name: str, config: Any = None, *, depends_on: tuple[str, ...] = ()) -> None:
        super().__init__(name, config, depends_on=depends_on)
        self._lb_lock = anyio.Lock()
        self.primary_site.publish(None)
        self.database_url.publish(None)
        self.backend.publish([])

    # -- children ------------------------------------------------------------------------------
    @property
    def sites(self) -> list[SiteEntity]:
        """The sites, in the order they were added."""
        return [c for c in self.children if isinstance(c, SiteEntity)]

    @property
    def load_balancer(self) -> HAProxyEntity:
        """The load balancer."""
        lb = self._children.get(self.config.load_balancer)
        if not isinstance(lb, HAProxyEntity):
            raise PermanentEffectorError(f"{self.id} has no HAProxyEntity child {self.config.load_balancer!r}")
        return lb

    def site(self, site_id: str) -> SiteEntity:
        """The site with id ``site_id`` (or name); raises PermanentEffectorError when there is none."""
        for s in self.sites:
            if site_id in (s.id, s.name):
                return s
        raise PermanentEffectorError(f"{site_id!r} is not a site of {self.id}; sites: {[s.id for s in self.sites]}")

    def url_for(self, site: SiteEntity) -> str:
        """The database URL of ``site``'s database."""
        c = site.database.config
        template: str = self.config.database_url
        return template.replace("{host}", str(c.host)).replace("{port}", str(c.port))

    def _initial_primary(self) -> SiteEntity | None:
        on_disk = [s for s in self.sites if bootstrap_role(s.database) == "primary"]
        if len(on_disk) == 1:
            return on_disk[0]
        if on_disk:
            self.report_problem(f"several sites hold a primary database on disk: {[s.id for s in on_disk]}")
        return None

    # -- lifecycle -----------------------------------------------------------------------------
    @effector(timeout=900, idempotent=True, description="start the load balancer and the primary site, then the others")
    async def start(self) -> None:
        """Start in dependency order, then point the workers and the load balancer at the primary site."""
        if self.lifecycle.actual is Lifecycle.RUNNING:
            return
        self.set_lifecycle(Lifecycle.STARTING, expected=Lifecycle.RUNNING)
        try:
            await self.on_start()
            primary = self._initial_primary()
            if primary is not None:
                # Before the workers start, so that they find it.
                await self._write_url(self.url_for(primary))
            first: list[Entity] = [self.load_balancer] + ([primary] if primary is not None else [])
            await run_all([c.start for c in first], what=f"{self.id}: start")
            rest = [c for c in self.children if c not in first]

            async def start_other(c: Entity) -> None:
                try:
                    await c.start()
                except Exception as exc:  # a standby site that fails is on fire; the primary serves on
                    self.report_problem(f"{c.id} did not start: {exc}")

            async with anyio.create_task_group() as tg:
                for c in rest:
                    tg.start_soon(start_other, c)
            if primary is not None and primary.role.value == "primary":
                await self._sync_backend(primary)
                self.primary_site.publish(primary.id)
            else:
                self.report_problem("no primary site found at start: traffic is not routed")
        except BaseException:
            self.set_lifecycle(Lifecycle.ON_FIRE)
            raise
        self.set_lifecycle(Lifecycle.RUNNING)

    # -- traffic -------------------------------------------------------------------------------
    async def _write_url(self, url: str) -> None:
        path = Path(self.config.database_url_file)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A new file moved into place: a worker reads either the old URL or the new one, whole.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(url + "\n")
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

        await anyio.to_thread.run_sync(write)
        self.database_url.publish(url)
        self.log.info("fabric_database_url", url=url, file=str(path))

    def _servers(self, site: SiteEntity, leaving: frozenset[str]) -> list[BackendServer]:
        tier = site.web
        if tier is None:
            return []
        out = []
        for m in tier.children:
            port = m.find_sensor("port")
            # Members not meant to run (stopping) or leaving are out; the others are in, ready or not:
            # HAProxy's own checks keep traffic off a worker until it answers.
            if m.name in leaving or not _expected_running(m) or port is None or not isinstance(port.value, int):
                continue
            out.append(BackendServer(name=f"{site.name}.{m.name}", host="127.0.0.1", port=port.value))
        return out

    async def _sync_backend(self, site: SiteEntity, leaving: frozenset[str] = frozenset()) -> dict[str, Any]:
        lb = self.load_balancer
        servers = self._servers(site, leaving)
        async with self._lb_lock:
            report = await lb.sync_backend(list(servers))
        self.backend.publish(sorted(s.name for s in servers))
        if any(report.get(k) for k in ("added", "removed", "moved")):
            self.log.info("fabric_backend_synced", site=site.id, **report)
        return report

    async def tier_changed(self, tier: ClusterEntity, *, leaving: frozenset[str] = frozenset()) -> None:
        """A web tier's members changed (or some are about to leave): follow in the load balancer if it serves."""
        site = tier.parent
        if isinstance(site, SiteEntity) and self.primary_site.value == site.id and self.load_balancer.up:
            await self._sync_backend(site, leaving)

    @effector(timeout=120, idempotent=True, description="set the load balancer's backend to the primary site's workers")
    async def sync_traffic(self) -> dict[str, Any]:
        """Make the backend exactly the primary site's workers (repairs drift); returns what changed."""
        current = self.primary_site.value
        if not isinstance(current, str):
            raise TemporaryEffectorError(f"{self.id} has no primary site yet")
        return await self._sync_backend(self.site(current))

    @effector(timeout=60, idempotent=True, description="send traffic (HAProxy, workers) to a site")
    async def repoint(self, site: str) -> dict[str, Any]:
        """Point the workers at ``site``'s database and the load balancer at its workers.

        Refuses a site whose database is not a primary. Writes the database
        URL file, sets the backend to the site's workers, then waits until
        one of them answers ``/health`` with the new database (a site with no
        worker gets one); on success ``primary_site`` becomes ``site``.
        """
        target = self.site(site)
        await target.poll()
        if target.role.value != "primary":
            raise PermanentEffectorError(f"{target.id} is not primary (role {target.role.value!r}): not repointing")
        url = self.url_for(target)
        await self._write_url(url)
        tier = target.web
        if tier is not None:
            if tier.lifecycle.actual is not Lifecycle.RUNNING:
                await tier.start()
            if not tier.children:
                await tier.resize(1)
        report = await self._sync_backend(target)
        if tier is not None:
            await self._await_workers(tier, url)
        self.primary_site.publish(target.id)
        self.log.warning("fabric_repointed", site=target.id, database_url=url)
        return {"site": target.id, "database_url": url, "backend": report}

    async def _await_workers(self, tier: ClusterEntity, url: str) -> None:
        """Until a worker of ``tier`` answers ``/health`` with 200 and the database of ``url``."""
        c = self.config
        host_port = url_host_port(url)
        last: dict[str, str] = {}
        async with httpx.AsyncClient(timeout=c.probe_timeout_s) as client:
            with anyio.move_on_after(c.repoint_timeout_s):
                while True:
                    for m in tier.children:
                        port = m.find_sensor("port")
                        if port is None or not isinstance(port.value, int) or not _expected_running(m):
                            continue
                        last[m.name] = answer = await _health(client, port.value)
                        if answer == f"ok {host_port}":
                            return
                    # The workers switch at their next request; nothing tells us when: ask again shortly.
                    await anyio.sleep(_WORKER_CHECK_PERIOD_S)
        raise TemporaryEffectorError(
            f"no worker of {tier.id} answered with database {host_port} within {c.repoint_timeout_s:g} s: "
            + (json.dumps(last) if last else "no worker with a port")
        )


async def run_all(steps: Sequence[Callable[[], Awaitable[Any]]], *, what: str) -> None:
    """Run ``steps`` concurrently, each to its end; if any failed, raise one EffectorError naming them all.

    (A task group would cancel the others at the first failure, and report an
    exception group whose message says nothing.)
    """
    errors: list[str] = []

    async def one(step: Callable[[], Awaitable[Any]]) -> None:
        try:
            await step()
        except Exception as exc:
            owner = getattr(getattr(step, "__self__", None), "id", getattr(step, "__name__", "step"))
            errors.append(f"{owner}: {type(exc).__name__}: {exc}")

    if len(steps) == 1:
        await one(steps[0])
    else:
        async with anyio.create_task_group() as tg:
            for step in steps:
                tg.start_soon(one, step)
    if errors:
        raise TemporaryEffectorError(f"{what}: " + "; ".join(errors))


def url_host_port(url: str) -> str:
    """``host:port`` of a libpq URL (what the shop's workers report as ``database``)."""
    params = conninfo_to_dict(url)
    return f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"


async def _health(client: httpx.AsyncClient, port: int) -> str:
    """``ok host:port`` from a worker's /health, or why not."""
    try:
        response = await client.get(f"http://127.0.0.1:{port}/health")
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if response.status_code != 200 or not isinstance(body, dict):
        return f"status {response.status_code}: {str(body)[:120]}"
    return f"ok {body.get('database')!s}"
