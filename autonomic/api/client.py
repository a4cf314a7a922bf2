"""A client of the supervisor's HTTP API (httpx), used by the ``autonomic`` client commands.

Errors come as two exceptions with messages meant for people:
:class:`Unreachable` (nothing answers at the URL) and :class:`ApiError`
(the supervisor answered with an error status, e.g. ``401: invalid token``).
"""

from __future__ import annotations

import errno
import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["DEFAULT_URL", "ApiClient", "ApiError", "Unreachable"]

#: where the supervisor's API listens by default
DEFAULT_URL = "http://127.0.0.1:8470"


class ApiError(Exception):
    """The supervisor refused the request: its status, message and detail."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.detail = detail


class Unreachable(Exception):
    """Nothing (or nothing that speaks HTTP) answers at the URL."""


def _reason(exc: httpx.TransportError) -> str:
    """The OS's word for a connection failure ("connection refused"), else the exception's."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            return (cause.strerror or errno.errorcode.get(cause.errno, str(cause.errno))).lower()
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    if "Errno 111" in text or "Connection refused" in text:
        return "connection refused"
    return text or type(exc).__name__


def entity_path(entity_id: str) -> str:
    """An entity id as one path segment (its slashes encoded): never ambiguous with a suffix route."""
    return quote(entity_id, safe="")


class ApiClient:
    """Calls one supervisor. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    # -- plumbing ------------------------------------------------------------------------
    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            raise ApiError(response.status_code, body["error"], body.get("detail"))
        raise ApiError(response.status_code, response.reason_phrase or "error", response.text[:500])

    def request(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """Send one request; the JSON answer, or ApiError / Unreachable."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                path,
                params=clean,
                content=None if body is None else json.dumps(body),
                headers={"content-type": "application/json"} if body is not None else None,
            )
        except httpx.TimeoutException:
            raise Unreachable(f"the supervisor at {self.url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach the supervisor at {self.url}: {_reason(exc)}") from None
        self._raise_for(response)
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, f"the answer is not JSON: {response.text[:200]!r}") from None

    # -- resources -----------------------------------------------------------------------
    def entities(self) -> dict[str, Any]:
        """The tree: ``{"root", "entities": [...]}``."""
        result: dict[str, Any] = self.request("GET", "/v1/entities")
        return result

    def entity(self, entity_id: str) -> dict[str, Any]:
        """One entity."""
        result: dict[str, Any] = self.request("GET", f"/v1/entities/{entity_path(entity_id)}")
        return result

    def invoke(
        self, entity_id: str, effector: str, args: Mapping[str, Any], *, reason: str | None = None
    ) -> dict[str, Any]:
        """Invoke an effector; the action as journaled."""
        path = f"/v1/entities/{entity_path(entity_id)}/effectors/{quote(effector, safe='')}"
        result: dict[str, Any] = self.request("POST", path, body=dict(args), params={"reason": reason})
        return result

    def rounds(self, *, entity: str | None = None, since: float | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Rounds, newest first."""
        doc = self.request("GET", "/v1/rounds", params={"entity": entity, "since": since, "limit": limit})
        rounds: list[dict[str, Any]] = doc["rounds"]
        return rounds

    def actions(self, *, entity: str | None = None, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Actions, newest first."""
        doc = self.request("GET", "/v1/actions", params={"entity": entity, "status": status, "limit": limit})
        actions: list[dict[str, Any]] = doc["actions"]
        return actions

    def action(self, action_id: str) -> dict[str, Any]:
        """One action."""
        result: dict[str, Any] = self.request("GET", f"/v1/actions/{quote(action_id, safe='')}")
        return result

    def why(self, action_id: str) -> dict[str, Any]:
        """Why an action was taken."""
        result: dict[str, Any] = self.request("GET", f"/v1/actions/{quote(action_id, safe='')}/why")
        return result

    def mode(self, entity_id: str) -> dict[str, Any]:
        """A manager's mode."""
        result: dict[str, Any] = self.request("GET", f"/v1/entities/{entity_path(entity_id)}/mode")
        return result

    def set_mode(self, entity_id: str, mode: str) -> dict[str, Any]:
        """Switch a manager's mode."""
        result: dict[str, Any] = self.request("PUT", f"/v1/entities/{entity_path(entity_id)}/mode", body={"mode": mode})
        return result

    def decide(self, action_id: str, verdict: str) -> dict[str, Any]:
        """Approve or reject an action waiting for approval (``verdict`` is ``approve`` or ``reject``)."""
        result: dict[str, Any] = self.request("POST", f"/v1/actions/{quote(action_id, safe='')}/{verdict}")
        return result

    @staticmethod
    def _parse_sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
        kind, data = "message", list[str]()
        for line in lines:
            if line == "":
                if data:
                    yield {"event": kind, "data": json.loads("\n".join(data))}
                kind, data = "message", list[str]()
            elif line.startswith(":"):
                continue
            elif line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))

    def events(
        self,
        *,
        types: Sequence[str] = (),
        entity: str | None = None,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Follow the event stream: ``{"event": kind, "data": {...}}`` until it ends.

        The subscription is in place when the first item is asked for; callers
        that must not miss an event (``invoke --wait``) start the generator first.
        """
        params = {"types": ",".join(types) or None, "entity": entity, "limit": limit, "timeout": timeout}
        clean = {k: v for k, v in params.items() if v is not None}
        try:
            with self._http.stream("GET", "/v1/events", params=clean, timeout=httpx.Timeout(10.0, read=None)) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise_for(r)
                yield {"event": "subscribed", "data": {}}
                yield from self._parse_sse(r.iter_lines())
        except httpx.TimeoutException:
            raise Unreachable(f"the supervisor at {self.url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach the supervisor at {self.url}: {_reason(exc)}") from None
