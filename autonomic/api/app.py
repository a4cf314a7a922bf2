"""The ASGI application: route, authenticate, authorize reads, call the handler, answer.

A plain object, so tests call it in process::

    app = ApiApp(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
        r = await c.get("/v1/entities", headers={"authorization": "Bearer ..."})

Every refusal is ``{"error": ..., "detail": ...}`` with a 4xx; a 500 means a
bug, and is logged with its traceback.
"""

from __future__ import annotations

import time
from typing import Any

import attrs

from autonomic.api import approvals, entities, health, journal, metrics, modes, sse
from autonomic.api.auth import bearer_token
from autonomic.api.context import ApiContext
from autonomic.api.http import HttpError, Receive, Request, Scope, Send, error_response
from autonomic.api.openapi import openapi_route
from autonomic.api.routing import Route, Router, path_segments

__all__ = ["ApiApp", "all_routes"]


def all_routes() -> tuple[Route, ...]:
    """Every route the API serves, ``/openapi.json`` last."""
    base = (
        *health.ROUTES,
        *metrics.ROUTES,
        *entities.ROUTES,
        *modes.ROUTES,
        *journal.ROUTES,
        *approvals.ROUTES,
        *sse.ROUTES,
    )
    return (*base, openapi_route(base))


def _read_resource(route: Route, path: str, params: dict[str, str]) -> dict[str, Any]:
    resource: dict[str, Any] = {"route": route.name, "path": path}
    if route.pattern.startswith("/v1/entities/"):
        resource["entity"] = params["id"]
    return resource


@attrs.define(eq=False)
class ApiApp:
    """The supervisor's HTTP API as an ASGI 3 application."""

    ctx: ApiContext
    router: Router = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.router = Router(all_routes())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":  # websockets: not spoken here
            await receive()
            await send({"type": "websocket.close", "code": 1003})
            return
        started = time.perf_counter()
        subject: str | None = None
        try:
            route, params = self.router.match(scope["method"], path_segments(scope))
            subject = await self._admit(scope, route, params)
            query = route.parse_query(scope.get("query_string") or b"")
            response = await route.handler(Request(self.ctx, scope, receive, params, query, subject))
        except HttpError as exc:
            response = error_response(exc.status, exc.message, exc.detail, exc.headers)
        except Exception:  # a bug, not bad input: answer 500 and keep serving
            self.ctx.log.exception("api_error", method=scope.get("method"), path=scope.get("path"))
            response = error_response(500, "internal error (logged by the supervisor)")
        await response.emit(send, receive)
        self.ctx.log.debug(
            "api_request",
            method=scope.get("method"),
            path=scope.get("path"),
            status=response.status,
            subject=subject,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    async def _admit(self, scope: Scope, route: Route, params: dict[str, str]) -> str | None:
        """The caller's subject: 401 without a valid token, 403 when a read is not allowed."""
        ctx = self.ctx
        if not route.auth or (route.name == "metrics" and ctx.public_metrics):
            return None
        header = None
        for k, v in scope.get("headers") or ():
            if k == b"authorization":
                header = v.decode("latin-1")
                break
        challenge = [("www-authenticate", 'Bearer realm="autonomic"')]
        token = bearer_token(header)
        if token is None:
            raise HttpError(401, "missing bearer token (send Authorization: Bearer <token>)", headers=challenge)
        subject = ctx.tokens.subject(token)
        if subject is None:
            raise HttpError(401, "invalid token", headers=challenge)
        if scope["method"] == "GET":
            verdict = await ctx.authorizer.check(subject, "read", _read_resource(route, scope["path"], params))
            if not verdict.allowed:
                raise HttpError(403, verdict.reason)
        return subject

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Nothing to start or stop: the supervisor owns the runtime."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
