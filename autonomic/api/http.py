"""HTTP over ASGI, the few parts the API needs: requests, responses, errors, JSON in and out.

Bad input never becomes a 500: every problem with a request is an
:class:`HttpError` carrying its 4xx status and a message, rendered as
``{"error": "...", "detail": ...}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from autonomic.api.context import ApiContext

__all__ = [
    "HttpError",
    "JsonResponse",
    "Message",
    "Receive",
    "Request",
    "Response",
    "Scope",
    "Send",
    "TextResponse",
    "error_response",
    "json_bytes",
    "parse_json",
]

# What httpx's ASGITransport and uvicorn pass: mappings, not necessarily dicts.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON_TYPE = "application/json"


class HttpError(Exception):
    """A request the API refuses: a 4xx status (5xx only for the server's own state) and why."""

    def __init__(
        self, status: int, message: str, *, detail: Any = None, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = tuple(headers)


def _sanitize(value: Any) -> Any:
    """``value`` with non-finite floats as ``null`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    return value


def json_bytes(value: Any) -> bytes:
    """Strict JSON for a response; anything JSON cannot say (NaN, odd objects) is made plain."""
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"), default=str)
    except ValueError:
        text = json.dumps(_sanitize(value), allow_nan=False, separators=(",", ":"), default=str)
    return text.encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def parse_json(body: bytes) -> Any:
    """Decode a request body as strict JSON (no NaN, no infinities); ``None`` when empty."""
    if not body.strip():
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpError(400, f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise HttpError(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise HttpError(400, "malformed JSON: nested too deeply") from None
    except ValueError as exc:  # NaN, 1e999, integers beyond Python's digit limit
        raise HttpError(400, f"malformed JSON: {exc}") from None


class Response:
    """What a handler returns; :meth:`emit` sends it."""

    status: int = 200

    async def emit(self, send: Send, receive: Receive) -> None:
        """Send the response over ASGI."""
        raise NotImplementedError


class _BodyResponse(Response):
    """A response whose whole body is known."""

    def __init__(self, status: int, body: bytes, content_type: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = tuple(headers)

    async def emit(self, send: Send, receive: Receive) -> None:
        """Send the status, headers and the whole body."""
        headers = [
            (b"content-type", self.content_type.encode()),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"no-store"),
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


class JsonResponse(_BodyResponse):
    """A JSON document."""

    def __init__(self, value: Any, status: int = 200, *, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(status, json_bytes(value), _JSON_TYPE, headers)


class TextResponse(_BodyResponse):
    """Text (Prometheus' exposition format)."""

    def __init__(self, body: bytes, content_type: str, status: int = 200) -> None:
        super().__init__(status, body, content_type)


def error_response(status: int, message: str, detail: Any = None, headers: Sequence[tuple[str, str]] = ()) -> Response:
    """The API's error document: ``{"error": message, "detail": detail}``."""
    return JsonResponse({"error": message, "detail": detail}, status, headers=headers)


@attrs.define(eq=False)
class Request:
    """One HTTP request, routed: its path parameters, checked query and authenticated subject."""

    ctx: ApiContext
    scope: Scope
    receive: Receive
    params: dict[str, str]
    query: dict[str, Any]
    #: the token's name, or None on open routes
    subject: str | None
    _body: bytes | None = attrs.field(init=False, default=None)

    @property
    def method(self) -> str:
        """The HTTP method."""
        method: str = self.scope["method"]
        return method

    @property
    def path(self) -> str:
        """The decoded path."""
        path: str = self.scope["path"]
        return path

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (lower case), or None."""
        key = name.encode("latin-1")
        for k, v in self.scope.get("headers") or ():
            if k == key:
                value: str = v.decode("latin-1")
                return value
        return None

    async def body(self) -> bytes:
        """The body, at most ``ctx.max_body`` bytes (413 beyond)."""
        if self._body is not None:
            return self._body
        limit = self.ctx.max_body
        declared = self.header("content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise HttpError(400, f"Content-Length {declared[:40]!r} is not a number") from None
            if size > limit:
                raise HttpError(413, f"the body is {size} bytes; the limit is {limit}", detail={"limit": limit})
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "the client went away while sending the body")
            chunk: bytes = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                raise HttpError(413, f"the body is over the limit of {limit} bytes", detail={"limit": limit})
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        """The body as JSON (``None`` when empty); 415 for a content type other than JSON."""
        ctype = self.header("content-type")
        if ctype is not None and ctype.split(";", 1)[0].strip().lower() not in (_JSON_TYPE, ""):
            raise HttpError(415, f"the body must be JSON (Content-Type: {_JSON_TYPE}), got Content-Type: {ctype[:80]}")
        return parse_json(await self.body())
