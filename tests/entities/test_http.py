"""HttpServiceEntity against a real HTTP server the test controls (serving, 503, hanging, absent)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from autonomic.entities.http import HttpServiceEntity
from autonomic.errors import ConfigError
from autonomic.lifecycle import Lifecycle
from tests.entities import actual, is_ready, is_up, wait_until
from tests.support.binaries import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    #: "ok" (200), a status code as text ("503"), or "hang" (never answer until released)
    mode = "ok"
    release: threading.Event
    requests = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests += 1
        mode = self.server.mode
        if mode == "hang":
            self.server.release.wait(30)
            return
        body = b"ok\n"
        self.send_response(200 if mode == "ok" else int(mode))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass  # quiet tests


class ControlledServer:
    """An HTTP server on 127.0.0.1 in a thread, whose answers the test switches."""

    def __init__(self) -> None:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.release = threading.Event()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/health"

    def set(self, mode: str) -> None:
        self.httpd.mode = mode

    def close(self) -> None:
        self.httpd.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[ControlledServer]:
    s = ControlledServer()
    try:
        yield s
    finally:
        s.close()


async def test_up_and_ready_when_serving(server: ControlledServer) -> None:
    e = HttpServiceEntity("api", {"url": server.url, "interval_s": 0})
    await e.start()
    try:
        assert actual(e) is Lifecycle.RUNNING
        assert is_up(e) and is_ready(e), e.not_up_reasons
        v = e.sensor_values()
        assert v["probe_ok"] is True
        assert v["status_code"] == 200
        assert 0 < v["latency_s"] < 2
        assert v["consecutive_failures"] == 0
    finally:
        await e.stop()
    assert actual(e) is Lifecycle.STOPPED


async def test_connection_refused_is_not_up() -> None:
    e = HttpServiceEntity("api", {"url": f"http://127.0.0.1:{free_port()}/", "interval_s": 0})
    await e.start()
    try:
        assert actual(e) is Lifecycle.RUNNING  # the watching runs; the endpoint does not
        assert not is_up(e) and not is_ready(e)
        assert e.not_up_reasons == {"probe": "connection refused"}
        v = e.sensor_values()
        assert v["probe_ok"] is False
        assert v["status_code"] is None
        assert v["latency_s"] is None  # no response: unknown, not zero
        assert e.sensor("latency_s").stale
        assert v["consecutive_failures"] == 1
    finally:
        await e.stop()


async def test_status_503_is_not_up(server: ControlledServer) -> None:
    server.set("503")
    e = HttpServiceEntity("api", {"url": server.url, "interval_s": 0})
    await e.start()
    try:
        assert not is_up(e)
        assert e.not_up_reasons == {"probe": "status 503"}
        v = e.sensor_values()
        assert v["status_code"] == 503
        assert v["latency_s"] is not None  # a response came, so its latency is real
        assert v["probe_ok"] is False
    finally:
        await e.stop()


async def test_expected_status_is_configurable(server: ControlledServer) -> None:
    server.set("503")
    e = HttpServiceEntity("api", {"url": server.url, "interval_s": 0, "expect_status": [200, 503]})
    await e.start()
    try:
        assert is_up(e), e.not_up_reasons
    finally:
        await e.stop()


async def test_hanging_server_times_out_in_bounded_time(server: ControlledServer) -> None:
    server.set("hang")
    e = HttpServiceEntity("api", {"url": server.url, "interval_s": 0, "timeout_s": 0.3})
    started = time.monotonic()
    await e.start()
    try:
        elapsed = time.monotonic() - started
        assert 0.25 <= elapsed < 2.0
        assert e.not_up_reasons == {"probe": "timeout after 0.3 s"}
        assert e.sensor_values()["status_code"] is None
    finally:
        await e.stop()


async def test_thresholds_ride_out_single_failures(server: ControlledServer) -> None:
    e = HttpServiceEntity(
        "api", {"url": server.url, "interval_s": 0, "failure_threshold": 3, "success_threshold": 2}
    )
    await e.start()  # one success, but two are needed
    try:
        assert not is_up(e)
        assert "waiting for 2 successful probes" in e.not_up_reasons["probe"]
        await e.poll()
        assert is_up(e)

        server.set("503")
        for n in (1, 2):
            await e.poll()
            assert is_up(e), f"down after {n} failure(s), below the threshold of 3"
            assert e.sensor_values()["consecutive_failures"] == n
        await e.poll()
        assert not is_up(e)
        assert e.not_up_reasons == {"probe": "status 503"}

        server.set("ok")
        await e.poll()
        assert not is_up(e)  # one success of the two needed
        await e.poll()
        assert is_up(e) and is_ready(e)
        assert e.sensor_values()["consecutive_failures"] == 0
    finally:
        await e.stop()


async def test_background_loop_follows_the_endpoint_without_polls(server: ControlledServer) -> None:
    e = HttpServiceEntity("api", {"url": server.url, "interval_s": 0.05, "failure_threshold": 1})
    async with e.hosted():
        await e.start()
        assert is_up(e)
        server.set("503")
        await wait_until(lambda: not is_up(e), 5, "the probe loop to notice the 503")
        assert e.not_up_reasons == {"probe": "status 503"}
        server.set("ok")
        await wait_until(lambda: is_up(e) and is_ready(e), 5, "the probe loop to notice the recovery")
    # hosted() stopped it, and the loop with it
    assert actual(e) is Lifecycle.STOPPED
    seen = server.httpd.requests
    time.sleep(0.2)
    assert server.httpd.requests == seen


async def test_without_a_home_the_loop_is_off_but_polls_work(server: ControlledServer) -> None:
    e = HttpServiceEntity("api", {"url": server.url, "interval_s": 0.05})
    await e.start()  # unattached, not hosted: no background loop, and no error
    try:
        seen = server.httpd.requests
        time.sleep(0.2)
        assert server.httpd.requests == seen
        await e.poll()
        assert server.httpd.requests == seen + 1
    finally:
        await e.stop()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "url"),
        ({"url": "ftp://example.org/"}, "http:// or https://"),
        ({"url": "http://127.0.0.1/", "failure_threshold": 0}, "failure_threshold must be >= 1"),
        ({"url": "http://127.0.0.1/", "timeout_s": 0}, "timeout_s must be > 0"),
        ({"url": "http://127.0.0.1/", "expect_status": []}, "at least one status"),
    ],
)
def test_config_is_checked(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HttpServiceEntity("api", config)
