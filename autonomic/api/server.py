"""Serving the API: uvicorn inside the supervisor's task group, on asyncio.

The supervisor starts it as one task::

    port = await tg.start(serve_api, ctx, "127.0.0.1", 8470)

The socket is bound before ``task_status.started(port)`` (so port 0 picks a
free port, and a port in use fails the start with a clear
:class:`~autonomic.api.errors.ApiConfigError`; bind it first with
:func:`bind_socket` to fail before anything else starts). Cancelling
the task shuts the server down gracefully: event streams end, no new
connection is accepted, requests in flight get ``grace_s`` seconds to finish.
uvicorn never installs signal handlers here: signals belong to the supervisor.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Generator
from contextlib import contextmanager

import anyio
import anyio.abc
import uvicorn

from autonomic.api.app import ApiApp
from autonomic.api.context import ApiContext
from autonomic.api.errors import ApiConfigError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "bind_socket", "serve_api"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8470


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers (the supervisor handles SIGINT and SIGTERM)."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Leave the process's signal handling alone."""
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; raises ApiConfigError saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ApiConfigError(f"the API cannot listen on {host}:{port}: {why}") from None
    sock.setblocking(False)
    return sock


async def serve_api(
    ctx: ApiContext,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    sock: socket.socket | None = None,
    grace_s: float = 5.0,
    max_connections: int = 100,
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``ctx``'s API on ``host:port`` until cancelled; reports the bound port when listening.

    ``sock``, from :func:`bind_socket`, is a socket bound earlier (so a port in
    use stops the supervisor before it starts anything); it is closed on return.
    """
    if sock is None:
        sock = bind_socket(host, port)
    name = sock.getsockname()
    host, bound = str(name[0]), int(name[1])
    url = f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
    config = uvicorn.Config(
        ApiApp(ctx),
        http="h11",
        ws="none",
        lifespan="off",
        interface="asgi3",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        limit_concurrency=max_connections,
        timeout_graceful_shutdown=max(1, round(grace_s)),
        h11_max_incomplete_event_size=16 * 1024,
    )
    server = _EmbeddedServer(config)
    stopped = anyio.Event()
    # Shielded, so cancelling serve_api shuts uvicorn down in order instead of killing it mid-flight;
    # the deadline set on shutdown bounds that.
    shield = anyio.CancelScope(shield=True)

    async def run() -> None:
        try:
            with shield:
                await server.serve(sockets=[sock])
        finally:
            stopped.set()

    by_itself = False
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, name="api-server")
            ctx.log.info("api_listening", host=host, port=bound, url=url)
            task_status.started(bound)
            try:
                await stopped.wait()
                by_itself = True
            finally:
                ctx.bus.close()  # event streams end, so their connections can close
                server.should_exit = True
                shield.deadline = anyio.current_time() + grace_s + 2.0
    finally:
        sock.close()
        ctx.log.info("api_stopped", host=host, port=bound)
    if by_itself:
        raise ApiConfigError(f"the API server on {host}:{bound} stopped by itself")
