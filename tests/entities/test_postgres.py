"""PostgresEntity with real servers: a primary and a streaming standby, failover, fencing, rebuild.

The servers run as an unprivileged OS user (``postgres`` when the tests run as
root), so their data directories live in a folder that user can reach: pytest's
``tmp_path`` sits under ``/tmp/pytest-of-<user>``, mode 0700, closed to it.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest

from autonomic.clock import SystemClock
from autonomic.entities.postgres import PostgresEntity, find_bin_dir, parse_lsn
from autonomic.errors import ConfigError, PermanentEffectorError
from autonomic.knowledge import Knowledge, MemoryStore
from autonomic.lifecycle import Lifecycle
from autonomic.policy import EmbeddedEngine, PolicySet
from autonomic.runtime import Runtime
from tests.entities import actual, is_up, wait_until
from tests.support.postgres import Make, server_pids

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

async def ask(port: int, query: str) -> Any:
    """One value from a fresh connection to 127.0.0.1:port as postgres (raises when it cannot)."""
    async with await psycopg.AsyncConnection.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True, connect_timeout=2
    ) as conn:
        row = await (await conn.execute(query)).fetchone()
        assert row is not None
        return row[0]


async def primaries(*servers: PostgresEntity) -> list[str]:
    """The servers that answer and take writes (not in recovery), asked directly, not through the entity."""
    out = []
    for e in servers:
        try:
            if await ask(e.config.port, "SELECT NOT pg_is_in_recovery()"):
                out.append(e.name)
        except psycopg.OperationalError:
            continue
    return out


async def rows(e: PostgresEntity) -> set[int]:
    async with e.connect() as conn:
        return {r[0] for r in await (await conn.execute("SELECT i FROM t")).fetchall()}


async def wait_streaming(primary: PostgresEntity, standby: PostgresEntity, timeout: float = 15) -> None:
    """Until the primary lists the standby as streaming, and the standby has replayed all the primary has."""
    query = f"SELECT count(*) FROM pg_stat_replication WHERE application_name = '{standby.name}' AND state = 'streaming'"
    with anyio.fail_after(timeout):
        while await ask(primary.config.port, query) != 1:
            await anyio.sleep(0.05)
        target = parse_lsn(await ask(primary.config.port, "SELECT pg_current_wal_lsn()::text"))
        while parse_lsn(await ask(standby.config.port, "SELECT pg_last_wal_replay_lsn()::text")) < target:
            await anyio.sleep(0.05)


async def wait_sync_state(primary: PostgresEntity, name: str, state: str) -> None:
    """Until the primary lists standby ``name`` with ``sync_state`` (it says "async" until the first reply)."""
    query = f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{name}'"
    last = None
    with anyio.move_on_after(10):
        while (last := await ask(primary.config.port, query)) != state:
            await anyio.sleep(0.05)
        return
    raise AssertionError(f"{name} stayed {last!r} on {primary.name}, expected {state!r}")


async def start_pair(make: Make, *, synchronous: bool, durable: bool = False) -> tuple[PostgresEntity, PostgresEntity]:
    """A primary and a standby streaming from it, checked."""
    primary = make("alpha", synchronous=synchronous, durable=durable)
    await primary.start()
    standby = make("beta", role="standby", primary_port=primary.config.port, durable=durable)
    await standby.start()
    await wait_streaming(primary, standby)
    await wait_sync_state(primary, "beta", "sync" if synchronous else "async")
    await primary.poll()
    await standby.poll()
    p, s = primary.sensor_values(), standby.sensor_values()
    assert p["server_up"] is True and s["server_up"] is True
    assert p["in_recovery"] is False and s["in_recovery"] is True
    assert p["role"] == "primary" and s["role"] == "standby"
    assert p["standbys"] == 1 and p["synchronous"] is synchronous
    for v in (p, s):
        assert v["replication_lag_bytes"] is not None and v["replication_lag_bytes"] < 1 << 20
        assert v["replication_lag_s"] is not None and v["replication_lag_s"] < 5
    assert await primaries(primary, standby) == ["alpha"]
    return primary, standby


async def test_a_standby_streams_what_the_primary_commits(make: Make) -> None:
    primary, standby = await start_pair(make, synchronous=True, durable=True)  # the default: every fsync
    async with primary.connect() as conn:
        await conn.execute("CREATE TABLE t (i int PRIMARY KEY)")
        await conn.execute("INSERT INTO t SELECT generate_series(1, 100)")
    await wait_streaming(primary, standby)
    assert await rows(standby) == set(range(1, 101))
    await primary.poll()
    await standby.poll()
    p, s = primary.sensor_values(), standby.sensor_values()
    assert p["timeline"] == 1 and s["timeline"] == 1
    assert p["fenced"] is False and s["fenced"] is False
    assert s["wal_lsn"] == p["wal_lsn"], "caught up: the standby replayed up to the primary's position"
    assert s["replication_lag_bytes"] == 0 and s["replication_lag_s"] == 0.0
    assert p["replication_lag_bytes"] == 0
    assert isinstance(p["connections"], int) and isinstance(s["connections"], int)
    # A standby takes no writes.
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        async with standby.connect() as conn:
            await conn.execute("INSERT INTO t VALUES (0)")
    # Synchronous: with the standby down, a commit does not return.
    await standby.stop()
    async with primary.connect() as conn:
        with anyio.move_on_after(1.5) as waited:
            await conn.execute("INSERT INTO t VALUES (1000)")
        assert waited.cancelled_caught, "a synchronous commit returned with no standby to confirm it"
    await standby.start()  # it comes back and catches up, with the commit made locally meanwhile
    await wait_streaming(primary, standby)
    assert 1000 in await rows(standby)

    # Files and processes belong to the OS user, never root.
    owner = pwd.getpwuid(primary.data_dir.stat().st_uid).pw_name
    assert owner == primary.config.os_user
    assert primary.postmaster_pid is not None
    assert pwd.getpwuid(os.stat(f"/proc/{primary.postmaster_pid}").st_uid).pw_name == owner
    assert standby.upstream == ("127.0.0.1", primary.config.port)


async def test_failover_keeps_every_acknowledged_commit_and_the_old_primary_rejoins(make: Make) -> None:
    primary, standby = await start_pair(make, synchronous=True)
    async with primary.connect() as conn:
        await conn.execute("CREATE TABLE t (i int PRIMARY KEY)")

    # Write without pause; kill -9 the primary's whole process group in the middle of it.
    acked: list[int] = []
    enough = anyio.Event()

    async def writer() -> None:
        async with primary.connect() as conn:
            for i in range(1, 1_000_000):
                try:
                    await conn.execute("INSERT INTO t VALUES (%s)", (i,))
                except psycopg.OperationalError:
                    return  # the server died under us
                acked.append(i)  # committed and acknowledged, so the standby has it
                if i == 200:
                    enough.set()

    pid = primary.postmaster_pid
    assert pid is not None
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            await enough.wait()
            os.killpg(pid, signal.SIGKILL)
    assert len(acked) >= 200
    print(f"{len(acked)} commits acknowledged before the kill")

    await primary.poll()  # unattached: the next poll notices the death
    assert actual(primary) is Lifecycle.ON_FIRE and not is_up(primary)
    assert "server" in primary.not_up_reasons
    v = primary.sensor_values()
    assert v["server_up"] is False and v["in_recovery"] is None and v["wal_lsn"] is None
    assert await primaries(primary, standby) == []

    await primary.fence("failover test")
    assert primary.sensor_values()["role"] == "fenced" and primary.fenced.value is True
    assert server_pids(primary.data_dir) == []

    assert await standby.promote() == "promoted"
    assert await standby.promote() == "already primary"
    assert await primaries(primary, standby) == ["beta"]
    s = standby.sensor_values()
    assert s["role"] == "primary" and s["in_recovery"] is False and s["timeline"] == 2
    assert s["standbys"] == 0 and s["synchronous"] is False
    kept = await rows(standby)
    missing = set(acked) - kept
    assert not missing, f"{len(missing)} acknowledged commits lost, e.g. {sorted(missing)[:5]}"
    async with standby.connect() as conn:  # the promoted server takes writes (no standby to wait for)
        with anyio.fail_after(5):
            await conn.execute("INSERT INTO t VALUES (-1)")

    # Failback preparation: the old primary becomes a standby of the new one.
    method = await primary.rebuild_as_standby("127.0.0.1", standby.config.port)
    assert method == "rewound"
    assert actual(primary) is Lifecycle.RUNNING and is_up(primary)
    assert primary.upstream == ("127.0.0.1", standby.config.port)
    await wait_streaming(standby, primary)
    assert await primaries(primary, standby) == ["beta"]
    assert kept | {-1} <= await rows(primary)
    await primary.poll()
    await standby.poll()
    p, s = primary.sensor_values(), standby.sensor_values()
    assert p["role"] == "standby" and p["in_recovery"] is True and p["fenced"] is False and p["timeline"] == 2
    assert p["replication_lag_bytes"] == 0
    assert s["standbys"] == 1

    # And the new primary can make its commits wait for it again.
    await standby.set_synchronous(True)
    assert standby.synchronous.value is True
    await wait_sync_state(standby, "alpha", "sync")
    async with standby.connect() as conn:
        with anyio.fail_after(5):
            await conn.execute("INSERT INTO t VALUES (-2)")
    await wait_streaming(standby, primary)
    assert -2 in await rows(primary)


async def test_a_fenced_server_takes_no_writes_until_rebuilt(make: Make, pg_bin: Path, os_user: str) -> None:
    primary, standby = await start_pair(make, synchronous=False)
    port = primary.config.port
    await primary.fence("split-brain guard")
    await primary.fence("again")  # idempotent
    v = primary.sensor_values()
    assert v["fenced"] is True and v["role"] == "fenced"
    assert actual(primary) is Lifecycle.STOPPED and primary.lifecycle.expected is Lifecycle.STOPPED
    assert server_pids(primary.data_dir) == []
    with pytest.raises(psycopg.OperationalError):
        await ask(port, "SELECT 1")

    # The entity refuses to start it, and promote refuses too.
    with pytest.raises(PermanentEffectorError, match="fenced"):
        await primary.start()
    with pytest.raises(PermanentEffectorError, match="fenced"):
        await primary.promote()
    assert server_pids(primary.data_dir) == []

    # Started by hand behind the entity's back, it comes up in recovery and turns every client away.
    user = pwd.getpwnam(os_user)
    switch = os.geteuid() != user.pw_uid
    proc = await anyio.open_process(
        [str(pg_bin / "postgres"), "-D", str(primary.data_dir), "-p", str(port), "-c", "listen_addresses=127.0.0.1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd="/",
        user=user.pw_uid if switch else None,
        group=user.pw_gid if switch else None,
        extra_groups=[] if switch else None,
    )
    try:
        last = ""
        with anyio.fail_after(15):
            while "pg_hba.conf rejects connection" not in last:
                try:
                    await ask(port, "SELECT 1")
                    pytest.fail("a fenced server accepted a connection")
                except psycopg.OperationalError as exc:
                    last = str(exc)
                await anyio.sleep(0.05)
        assert (primary.data_dir / "standby.signal").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        with anyio.fail_after(15):
            await proc.wait()
    assert await primaries(primary, standby) == []  # the standby was never promoted: nobody writes

    with pytest.raises(PermanentEffectorError, match="itself"):
        await primary.rebuild_as_standby("127.0.0.1", port)
    assert primary.fence_path.exists()

    # Only a rebuild lifts the fence. With its control file gone pg_rewind cannot work: a base backup it is.
    await standby.promote()
    (primary.data_dir / "global" / "pg_control").unlink()
    assert await primary.rebuild_as_standby("127.0.0.1", standby.config.port) == "base backup"
    assert not primary.fence_path.exists() and primary.sensor_values()["fenced"] is False
    await wait_streaming(standby, primary)
    assert await primaries(primary, standby) == ["beta"]


async def test_a_dead_postmaster_is_noticed_at_once_under_a_runtime(make: Make) -> None:
    clock = SystemClock()
    knowledge = Knowledge(MemoryStore(), clock)
    await knowledge.open()
    server = make("solo")
    try:
        async with Runtime(server, EmbeddedEngine(PolicySet.from_texts({})), knowledge, clock).running():
            await wait_until(lambda: actual(server) is Lifecycle.RUNNING, 30, "the server to start")
            pid = server.postmaster_pid
            assert pid is not None
            os.killpg(pid, signal.SIGKILL)
            killed = time.monotonic()
            await wait_until(lambda: actual(server) is Lifecycle.ON_FIRE, 5, "the death to be noticed")
            assert time.monotonic() - killed < 1.0  # nobody polled: the watcher noticed
            assert not is_up(server)
            assert server.not_up_reasons["server"] == "postmaster exited with code -9"
            assert server.server_up.value is False
            # A restart brings it back (crash recovery), and the runtime's end takes it along.
            await server.restart()
            assert is_up(server)
            pid = server.postmaster_pid
            assert pid is not None
    finally:
        await knowledge.close()
    assert actual(server) is Lifecycle.STOPPED
    assert server_pids(server.data_dir) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"data_dir": "/x", "role": "leader"}, "role"),
        ({"data_dir": "/x", "role": "standby"}, "primary_port"),
        ({"data_dir": "/x", "synchronous_commit": "local"}, "synchronous_commit"),
        ({"port": 5432}, "data_dir"),
    ],
)
def test_config_is_checked(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PostgresEntity("bad", config)


async def test_a_data_dir_closed_to_the_os_user_is_named(tmp_path: Path, pg_bin: Path, os_user: str) -> None:
    e = PostgresEntity("closed", {"data_dir": str(tmp_path / "closed" / "data"), "bin_dir": str(pg_bin)})
    if os.geteuid() == 0:  # the servers run as postgres, and pytest's tmp_path is closed to it
        (tmp_path / "closed").mkdir(mode=0o700)
        with pytest.raises(PermanentEffectorError, match="cannot reach"):
            await e.start()
        assert not (tmp_path / "closed" / "data").exists()
    nobody = PostgresEntity("nobody", {"data_dir": str(tmp_path / "n"), "os_user": "no-such-user-here"})
    with pytest.raises(PermanentEffectorError, match="does not exist"):
        await nobody.start()
    assert find_bin_dir(str(pg_bin)) == pg_bin
    assert parse_lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
