"""``GET /v1/events``: new rounds, actions and lifecycle changes as server-sent events.

Each event is ``id: <seq>``, ``event: round | action | lifecycle`` and
``data: <JSON>`` (the journal record, or ``{"entity", "field", "from", "to",
"time"}``). A comment line is sent at once and then every ``heartbeat_s``
seconds, so proxies keep the connection and a dead client is noticed. A
subscriber too slow to keep up gets ``event: dropped`` with how many events
it missed. The stream ends when the client goes away, after ``limit`` events,
after ``timeout`` seconds, or when the supervisor stops. Missed history is
read from ``/v1/rounds`` and ``/v1/actions``; ids are not replayed.
"""

from __future__ import annotations

import json
import math

import anyio
import attrs

from autonomic.api.events import EVENT_KINDS, Event, EventBus, EventKind, Subscription
from autonomic.api.http import Receive, Request, Response, Send, json_bytes
from autonomic.api.routing import QueryParam, Route

__all__ = ["ROUTES", "EventStream", "format_event"]


def format_event(event: Event) -> bytes:
    """One event in the SSE wire format."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, event.kind.encode(), json_bytes(event.data))


@attrs.define(eq=False)
class EventStream(Response):
    """A streamed response of bus events, filtered by kind and entity."""

    bus: EventBus
    kinds: frozenset[EventKind]
    entity: str | None = None
    limit: int | None = None
    timeout: float | None = None
    heartbeat_s: float = 15.0
    status: int = 200

    def _wanted(self, event: Event) -> bool:
        return event.kind in self.kinds and (self.entity is None or event.concerns(self.entity))

    async def emit(self, send: Send, receive: Receive) -> None:
        """Stream until the client leaves, the limit or timeout is reached, or the bus closes."""
        with self.bus.subscribe() as sub:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-store"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b": subscribed\n\n", "more_body": True})
            client_gone = False
            async with anyio.create_task_group() as tg:

                async def watch_disconnect() -> None:
                    nonlocal client_gone
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    client_gone = True
                    tg.cancel_scope.cancel()

                tg.start_soon(watch_disconnect)
                await self._pump(sub, send)
                tg.cancel_scope.cancel()
            if not client_gone:
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, sub: Subscription, send: Send) -> None:
        sent = 0
        with anyio.move_on_after(self.timeout if self.timeout is not None else math.inf):
            while self.limit is None or sent < self.limit:
                with anyio.move_on_after(self.heartbeat_s) as idle:
                    try:
                        event = await sub.stream.receive()
                    except anyio.EndOfStream:
                        return
                if idle.cancelled_caught:
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                    continue
                dropped = sub.take_dropped()
                if dropped:
                    note = b"event: dropped\ndata: %s\n\n" % json.dumps({"dropped": dropped}).encode()
                    await send({"type": "http.response.body", "body": note, "more_body": True})
                if self._wanted(event):
                    await send({"type": "http.response.body", "body": format_event(event), "more_body": True})
                    sent += 1


async def events(req: Request) -> Response:
    """Subscribe to the event stream."""
    q = req.query
    kinds: tuple[EventKind, ...] = q["types"] or EVENT_KINDS
    return EventStream(
        bus=req.ctx.bus,
        kinds=frozenset(kinds),
        entity=q["entity"],
        limit=None if q["limit"] is None else int(q["limit"]),
        timeout=q["timeout"],
        heartbeat_s=req.ctx.heartbeat_s,
    )


ROUTES = (
    Route(
        method="GET",
        pattern="/v1/events",
        handler=events,
        name="events",
        summary="Server-sent events: new rounds, actions and lifecycle changes",
        query=(
            QueryParam(
                name="types", kind="choices", choices=EVENT_KINDS, description="comma-separated kinds (default: all)"
            ),
            QueryParam(name="entity", description="only events about this entity"),
            QueryParam(
                name="limit", kind="int", minimum=1, maximum=1_000_000, description="end after this many events"
            ),
            QueryParam(
                name="timeout", kind="float", minimum=0, maximum=86_400, description="end after this many seconds"
            ),
        ),
    ),
)
