"""HAProxyEntity against a real HAProxy: traffic through it, changes through the runtime API only.

The backends are small HTTP servers in the test's own event loop that answer
with their name, so every response says which server HAProxy chose.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.abc import SocketAttribute

from autonomic.clock import SystemClock
from autonomic.entities.haproxy import BackendServer, HAProxyEntity, servers_from_members
from autonomic.entity import Entity
from autonomic.errors import ConfigError, EffectorError, PermanentEffectorError
from autonomic.lifecycle import Lifecycle
from autonomic.sensor import Sensor
from autonomic.testing import managed
from tests.support.binaries import free_port, require_binary

pytestmark = pytest.mark.anyio

# Health checks fast enough that UP/DOWN changes show within a second.
FAST_CHECKS = {"check_interval_s": 0.3, "check_rise": 1, "check_fall": 1}


class Backend:
    """An HTTP server answering every request with its name; ``/slow`` answers after ``slow_s``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self.hits = 0
        self.slow_s = 1.5
        self._scope = anyio.CancelScope()

    async def start(self, tg: anyio.abc.TaskGroup) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(SocketAttribute.local_port)
        tg.start_soon(self._run, listener)

    async def _run(self, listener: anyio.abc.Listener[Any]) -> None:
        with self._scope:
            async with listener:
                await listener.serve(self._handle)

    def stop(self) -> None:
        """Close the listener: connections are refused from now on."""
        self._scope.cancel()

    async def _handle(self, stream: anyio.abc.ByteStream) -> None:
        async with stream:
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    data += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return  # a TCP health check: connect, then close
            self.hits += 1
            if data.startswith(b"GET /slow"):
                await anyio.sleep(self.slow_s)
            body = self.name.encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            await stream.send(head + body)


@asynccontextmanager
async def backends(*names: str) -> AsyncIterator[dict[str, Backend]]:
    """Running backends by name, stopped on exit."""
    async with anyio.create_task_group() as tg:
        out = {n: Backend(n) for n in names}
        for b in out.values():
            await b.start(tg)
        try:
            yield out
        finally:
            tg.cancel_scope.cancel()


@asynccontextmanager
async def haproxy(tmp_path: Path, servers: list[dict[str, Any]], **config: Any) -> AsyncIterator[HAProxyEntity]:
    """A started HAProxyEntity in front of ``servers``, always stopped."""
    binary = require_binary("haproxy", "haproxy")
    lb = HAProxyEntity(
        "lb",
        {
            "haproxy_binary": str(binary),
            "port": free_port(),
            "run_dir": str(tmp_path / "hap"),
            "servers": servers,
            **FAST_CHECKS,
            **config,
        },
    )
    try:
        await lb.start()
        yield lb
    finally:
        with anyio.CancelScope(shield=True):
            await lb.stop()


async def get(port: int, path: str = "/") -> tuple[int, str]:
    """One HTTP/1.1 request on a fresh connection: (status, body)."""
    with anyio.fail_after(10):
        async with await anyio.connect_tcp("127.0.0.1", port) as s:
            await s.send(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                try:
                    data += await s.receive()
                except anyio.EndOfStream:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


async def bodies(port: int, n: int) -> list[str]:
    """The bodies of ``n`` sequential requests, all of which must succeed."""
    out = []
    for _ in range(n):
        status, body = await get(port)
        assert status == 200, body
        out.append(body)
    return out


async def until(lb: HAProxyEntity, predicate: Callable[[HAProxyEntity], bool], timeout: float = 10) -> None:
    """Poll ``lb`` until ``predicate`` holds (health checks take their time)."""
    with anyio.fail_after(timeout):
        while True:
            await lb.poll()
            if predicate(lb):
                return
            await anyio.sleep(0.05)


def status(lb: HAProxyEntity, name: str) -> str | None:
    servers = lb.servers.value or {}
    return servers[name]["status"] if name in servers else None


def actual(e: Entity) -> Lifecycle:
    """The lifecycle state now (a call, so type checkers do not pin it across awaits)."""
    return e.lifecycle.actual


def is_up(e: Entity) -> bool:
    """Whether ``e`` is up now."""
    return e.up


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.integration
async def test_servers_change_through_the_runtime_api_without_reload(tmp_path: Path) -> None:
    async with backends("a", "b") as bk, haproxy(tmp_path, [{"name": "a", "port": bk["a"].port}]) as lb:
        master, worker = lb.master_pid, lb.worker_pid
        assert master is not None and worker is not None
        await until(lb, lambda e: status(e, "a") == "UP")
        assert set(await bodies(lb.config.port, 4)) == {"a"}

        await lb.add_server("b", "127.0.0.1", bk["b"].port)
        await until(lb, lambda e: status(e, "b") == "UP")
        got = await bodies(lb.config.port, 8)
        assert got.count("a") >= 2 and got.count("b") >= 2  # round robin over both

        await lb.drain_server("b")
        assert status(lb, "b") == "DRAIN"
        assert set(await bodies(lb.config.port, 4)) == {"a"}

        await lb.enable_server("b")
        await until(lb, lambda e: status(e, "b") == "UP")
        assert set(await bodies(lb.config.port, 6)) == {"a", "b"}

        await lb.remove_server("a")
        assert set(lb.servers.value) == {"b"}
        assert set(await bodies(lb.config.port, 4)) == {"b"}
        await lb.remove_server("a")  # idempotent: already gone

        # No reload: the same master and the same worker served everything.
        assert (lb.master_pid, lb.worker_pid) == (master, worker)
        info = await lb.command("show info")
        assert f"Pid: {worker}\n" in info
        assert lb.log_path.read_text().count("New worker") == 1


@pytest.mark.integration
async def test_remove_server_lets_a_request_in_flight_finish(tmp_path: Path) -> None:
    async with backends("a", "b") as bk, haproxy(
        tmp_path, [{"name": "a", "port": bk["a"].port}, {"name": "b", "port": bk["b"].port}], balance="first"
    ) as lb:
        await until(lb, lambda e: status(e, "a") == "UP" and status(e, "b") == "UP")
        result: list[tuple[int, str]] = []

        async def slow() -> None:
            result.append(await get(lb.config.port, "/slow"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)  # "first" sends it to a
            await until(lb, lambda e: (e.servers.value or {}).get("a", {}).get("sessions") == 1)
            await lb.remove_server("a")
        assert result == [(200, "a")]  # drained, not cut
        assert set(lb.servers.value) == {"b"}
        assert set(await bodies(lb.config.port, 3)) == {"b"}


@pytest.mark.integration
async def test_sensors_follow_traffic_and_a_dead_server_goes_down(tmp_path: Path) -> None:
    async with backends("a", "b") as bk, haproxy(
        tmp_path, [{"name": "a", "port": bk["a"].port}, {"name": "b", "port": bk["b"].port}]
    ) as lb:
        await until(lb, lambda e: e.backend_up_servers.value == 2)
        await bodies(lb.config.port, 10)
        await lb.poll()
        servers = lb.servers.value
        assert servers["a"]["requests_total"] == 5 and servers["b"]["requests_total"] == 5
        assert servers["a"]["addr"] == f"127.0.0.1:{bk['a'].port}"
        assert servers["a"]["sessions"] == 0 and servers["a"]["queue"] == 0 and servers["a"]["weight"] == 1
        assert lb.frontend_requests_total.value == 10
        assert lb.frontend_errors.value == 0
        assert lb.frontend_request_rate.value is not None and lb.frontend_request_rate.value >= 1
        assert lb.frontend_sessions.value == 0 and lb.backend_queue.value == 0
        assert bk["a"].hits == 5 and bk["b"].hits == 5

        bk["b"].stop()
        await until(lb, lambda e: status(e, "b") == "DOWN")
        assert lb.backend_up_servers.value == 1
        assert set(await bodies(lb.config.port, 4)) == {"a"}


class Member(Entity, type_name="test-member"):
    """A stand-in for a ProcessEntity member: it publishes the port it listens on."""

    port = Sensor(int, nullable=True)


@pytest.mark.integration
async def test_sync_backend_keeps_the_backend_in_step_with_members(tmp_path: Path) -> None:
    async with backends("m0", "m1", "m2") as bk, haproxy(tmp_path, []) as lb:
        members = [Member(n) for n in ("m0", "m1", "m2")]
        for m in members:
            await m.start()
            m.port.publish(bk[m.name].port)
        members[2].set_ready(False)  # not ready: no traffic yet

        report = await lb.sync_backend(servers_from_members(members))
        assert report == {"added": ["m0", "m1"], "moved": [], "enabled": [], "removed": []}
        await until(lb, lambda e: e.backend_up_servers.value == 2)
        assert set(await bodies(lb.config.port, 4)) == {"m0", "m1"}

        # Resize: m0 leaves, m2 becomes ready; m1 was drained by hand and is put back.
        await lb.drain_server("m1")
        members[2].set_ready(True)
        report = await lb.sync_backend(servers_from_members(members[1:]))
        assert report == {"added": ["m2"], "moved": [], "enabled": ["m1"], "removed": ["m0"]}
        await until(lb, lambda e: e.backend_up_servers.value == 2)
        assert set(await bodies(lb.config.port, 6)) == {"m1", "m2"}

        # Replace: m1's successor listens where m0 did; JSON items as a policy would send them.
        report = await lb.sync_backend([{"name": "m1", "port": bk["m0"].port}, ["m2", "127.0.0.1", bk["m2"].port]])
        assert report == {"added": [], "moved": ["m1"], "enabled": [], "removed": []}
        assert lb.servers.value["m1"]["addr"] == f"127.0.0.1:{bk['m0'].port}"
        assert await lb.sync_backend([("m1", "127.0.0.1", bk["m0"].port), ("m2", "localhost", bk["m2"].port)]) == {
            "added": [], "moved": [], "enabled": [], "removed": []
        }

        with pytest.raises(PermanentEffectorError, match="duplicate"):
            await lb.sync_backend([("x", "127.0.0.1", 1), ("x", "127.0.0.1", 2)])
        with pytest.raises(PermanentEffectorError, match="bad backend server"):
            await lb.sync_backend([{"name": "bad name", "port": 1}])


@pytest.mark.integration
async def test_stop_leaves_no_process(tmp_path: Path) -> None:
    async with backends("a") as bk, haproxy(tmp_path, [{"name": "a", "port": bk["a"].port}]) as lb:
        master, worker = lb.master_pid, lb.worker_pid
        assert master is not None and worker is not None and alive(master) and alive(worker)
        await lb.poll()
        assert lb.servers.value is not None
        await lb.stop()
        assert lb.lifecycle.actual is Lifecycle.STOPPED
        assert not alive(master) and not alive(worker)
        assert lb.master_pid is None and lb.servers.value is None and lb.frontend_requests_total.value is None
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", lb.config.port)) != 0  # the frontend port is closed
        with pytest.raises(EffectorError, match="not running"):
            await lb.add_server("b", "127.0.0.1", 1)


@pytest.mark.integration
async def test_exit_of_a_detached_haproxy_is_seen_at_the_next_poll(tmp_path: Path) -> None:
    async with haproxy(tmp_path, []) as lb:
        master, worker = lb.master_pid, lb.worker_pid
        assert master is not None and worker is not None
        os.kill(master, signal.SIGKILL)
        with anyio.fail_after(5):
            while alive(master):
                await anyio.sleep(0.02)
        await lb.poll()
        assert lb.lifecycle.actual is Lifecycle.ON_FIRE
        assert not lb.up and "haproxy exited" in lb.not_up_reasons["process"]
        assert lb.sensor_values()["servers"] is None and lb.servers.stale
        assert any("haproxy exited" in p for p in lb.take_problems())
        with anyio.fail_after(5):  # the orphaned worker is ended too
            while alive(worker):
                await anyio.sleep(0.02)
        await lb.start()  # and it can be started again
        assert is_up(lb) and lb.master_pid not in (None, master)


@pytest.mark.integration
async def test_exit_of_an_attached_haproxy_is_seen_at_once(tmp_path: Path) -> None:
    binary = require_binary("haproxy", "haproxy")
    lb = HAProxyEntity("lb", {"haproxy_binary": str(binary), "port": free_port(), "run_dir": str(tmp_path / "hap")})
    async with managed(lb, {}, clock=SystemClock()):
        try:
            with anyio.fail_after(15):
                while lb.lifecycle.actual is not Lifecycle.RUNNING:
                    await anyio.sleep(0.02)
            worker = lb.worker_pid
            assert worker is not None
            # The worker dies; the master follows it out, and the waiting task sees that without any poll.
            os.kill(worker, signal.SIGKILL)
            with anyio.fail_after(5):
                while actual(lb) is not Lifecycle.ON_FIRE:
                    await anyio.sleep(0.02)
            assert "haproxy exited" in lb.not_up_reasons["process"]
        finally:
            with anyio.CancelScope(shield=True):
                await lb.stop()


@pytest.mark.integration
async def test_start_fails_with_haproxys_reason(tmp_path: Path) -> None:
    binary = require_binary("haproxy", "haproxy")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        lb = HAProxyEntity("lb", {"haproxy_binary": str(binary), "port": port, "run_dir": str(tmp_path / "hap")})
        try:
            with pytest.raises(EffectorError, match="(?i)cannot bind"):
                await lb.start()
            assert lb.lifecycle.actual is Lifecycle.ON_FIRE and lb.master_pid is None
        finally:
            await lb.stop()


def test_config_refuses_what_the_runtime_api_could_not_serve(tmp_path: Path) -> None:
    # (The converter keeps the place of a validator's complaint but not yet its words.)
    with pytest.raises(ConfigError):
        HAProxyEntity("lb", {"port": 8080, "balance": "static-rr"})  # cannot take dynamic servers
    with pytest.raises(ConfigError):
        HAProxyEntity("lb", {"port": 8080, "servers": [{"name": "a", "port": 1}, {"name": "a", "port": 2}]})
    with pytest.raises(ConfigError, match=r"servers\[0\]"):
        HAProxyEntity("lb", {"port": 8080, "servers": [{"name": "a b", "port": 1}]})
    with pytest.raises(ConfigError, match="port"):
        HAProxyEntity("lb", {})  # the frontend port is required
    with pytest.raises(ValueError, match="static-rr"):
        HAProxyEntity.Config(port=8080, balance="static-rr")
    lb = HAProxyEntity("lb", {"port": 8080, "balance": "uri", "run_dir": str(tmp_path)})
    cfg = lb.render_config([("a", "127.0.0.1", 1)])
    assert "hash-type consistent" in cfg  # hashing admits dynamic servers only when consistent
    assert BackendServer.of(("a", "h", 1)) == BackendServer(name="a", host="h", port=1)
