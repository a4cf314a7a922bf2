"""The OPA engine: decisions from a real OPA server over its REST API.

It implements the same :class:`~autonomic.policy.engine.PolicyEngine` as the
embedded engine, through ``opa-python-client``'s asyncio client (aiohttp, so
it runs on anyio's asyncio backend only):

- :meth:`OPAEngine.open` checks ``GET /health``, removes modules the server
  holds that are not in the :class:`PolicySet` (so the server evaluates exactly
  what the embedded engine would), and pushes every module with
  ``PUT /v1/policies/<id>`` (the client's ``update_policy_from_string``).
  Compile errors (HTTP 400) become a :class:`PolicyError` naming the file and line.
- :meth:`OPAEngine.evaluate` posts ``{"input": ...}`` to the Data API
  (``data.a.b.c`` → ``POST /v1/data/a/b/c``). A response without ``result`` is
  :data:`UNDEFINED`. Runtime errors (HTTP 500) become a :class:`PolicyError`
  with OPA's message and location. ``strict-builtin-errors`` is on, as the
  embedded engine raises on built-in errors (``1/0``, ``to_number("x")``)
  where OPA would otherwise make the expression undefined.

Evaluation does not go through the client's ``query_rule``: that method calls
``raise_for_status()`` before reading the body, so on HTTP 500 OPA's error
(code, message, location) is lost, and it takes a dict that it serializes
again although the input arrives as JSON text. :class:`_Client` adds one
method that posts the JSON text through the client's own session and request
helper and returns status and body. The client's retries are off (``retries=0``):
it would retry HTTP 500, which OPA answers for deterministic runtime errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import anyio
from opa_client import AsyncOpaClient
from opa_client.errors import DeletePolicyError, PolicyNotFoundError, RegoParseError

from autonomic.errors import PolicyError
from autonomic.policy.engine import UNDEFINED, PolicySet, PolicySource, check_data_path

__all__ = ["OPAEngine"]

_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._/-]")
#: OPA's code for a syntax error: reported before the errors it may cause elsewhere
_PARSE_ERROR = "rego_parse_error"
_JSON_HEADERS: Final = {"Content-Type": "application/json"}


class _Client(AsyncOpaClient):  # type: ignore[misc]  # opa_client ships no type information
    """``AsyncOpaClient`` plus a Data API query that keeps OPA's error body."""

    async def post_data(self, data_path: str, body: bytes, params: str) -> tuple[int, bytes]:
        """``POST /v1/data/<data_path>?<params>``; the HTTP status and the raw body, whatever the status."""
        url = f"{self.root_url}/data/{data_path}"
        if params:
            url = f"{url}?{params}"
        async with self._request("POST", url, data=body, headers=_JSON_HEADERS) as response:
            status: int = response.status
            raw: bytes = await response.read()
            return status, raw


def _policy_id(path: str, taken: set[str]) -> str:
    """An OPA policy id for a module path: URL-safe, readable in OPA's messages, unique."""
    parts = [p for p in _UNSAFE_ID_CHARS.sub("_", path.replace("\\", "/")).split("/") if p not in ("", ".", "..")]
    base = "/".join(parts) or "module.rego"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}~{n}"
    taken.add(candidate)
    return candidate


class OPAEngine:
    """Evaluates decisions on a real OPA server (``opa run --server``) at ``url``.

    Open it (``await engine.open()``, or ``async with``) to push the policies
    and fail fast on compile errors; an engine that is not open opens itself
    on its first evaluation. With ``exclusive`` (the default) the server is
    the engine's own: modules it holds that are not in ``policies`` are
    removed on open, since a leftover module of the same package would change
    decisions. If the server restarts and loses the modules, the first
    undefined result notices, pushes them again and evaluates once more.

    Every request runs under ``timeout`` seconds of real time (HTTP is real
    I/O whatever the framework's clock); no answer in time, a refused or
    dropped connection all raise ``PolicyError("OPA server at URL unreachable: ...")``.
    """

    def __init__(
        self,
        policies: PolicySet,
        url: str = "http://127.0.0.1:8181",
        *,
        timeout: float = 5.0,
        open_timeout: float = 30.0,
        exclusive: bool = True,
        strict_builtin_errors: bool = True,
        token: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PolicyError(f"not an OPA server URL: {url!r} (expected e.g. http://127.0.0.1:8181)")
        if parts.path not in ("", "/"):
            # opa-python-client builds every URL as scheme://host:port/v1/...; it has no base path.
            raise PolicyError(f"an OPA server URL cannot have a path: {url!r}")
        self._policies = policies
        self._url = url.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._https = parts.scheme == "https"
        self._token = token
        self._timeout = timeout
        self._open_timeout = open_timeout
        self._exclusive = exclusive
        self._params = "strict-builtin-errors=true" if strict_builtin_errors else ""
        self._version = policies.version
        taken: set[str] = set()
        self._ids: dict[str, PolicySource] = {_policy_id(s.path, taken): s for s in policies.sources}
        #: the smallest module: the cheapest to ask for when checking the server still has ours
        self._probe_id = min(self._ids, key=lambda i: len(self._ids[i].text)) if self._ids else None
        self._client: _Client | None = None
        self._opened = False
        self._lock = anyio.Lock()

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path], url: str, **kw: Any) -> OPAEngine:
        """Load Rego files and folders (tests excluded from folders) into a new engine for ``url``."""
        return cls(PolicySet.from_paths(paths), url, **kw)

    @property
    def name(self) -> str:
        """``opa``."""
        return "opa"

    @property
    def url(self) -> str:
        """The OPA server's base URL."""
        return self._url

    @property
    def version(self) -> str:
        """The policy version (hash of the loaded sources)."""
        return self._version

    @property
    def packages(self) -> Sequence[str]:
        """The packages loaded."""
        return self._policies.packages

    @property
    def policies(self) -> PolicySet:
        """The loaded sources."""
        return self._policies

    @property
    def policy_ids(self) -> dict[str, str]:
        """OPA policy id to module path, as pushed."""
        return {i: s.path for i, s in self._ids.items()}

    # -- errors --------------------------------------------------------------------------
    def _unreachable(self, reason: object, *, path: str | None = None) -> PolicyError:
        return PolicyError(f"OPA server at {self._url} unreachable: {reason}", path=path)

    def _location(self, loc: Any) -> str | None:
        """``file:row:col`` with OPA's policy id turned back into the module's path."""
        if not isinstance(loc, dict) or not loc.get("file"):
            return None
        file = str(loc["file"])
        src = self._ids.get(file)
        where = src.path if src is not None else file
        row, col = loc.get("row"), loc.get("col")
        if row is None:
            return where
        return f"{where}:{row}:{col}" if col is not None else f"{where}:{row}"

    def _readable(self, message: str) -> str:
        """OPA names modules by policy id in its messages (``1 at id:3``); name them by path."""
        for pid, src in self._ids.items():
            if pid != src.path and pid in message:
                message = re.sub(rf"(?<![\w/.~-]){re.escape(pid)}(?![\w/.~-])", src.path, message)
        return message

    def _error_from(self, body: Any, *, path: str | None = None, fallback: str) -> PolicyError:
        """A :class:`PolicyError` from an OPA error body: the most telling error, where it is."""
        errors = body.get("errors") if isinstance(body, dict) else None
        items = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
        if not items:
            message = body.get("message") if isinstance(body, dict) else None
            return PolicyError(self._readable(str(message or fallback)), path=path)
        # A syntax error explains the others (a call into a module that did not parse).
        items.sort(key=lambda e: e.get("code") != _PARSE_ERROR)
        first = items[0]
        message = self._readable(str(first.get("message") or body.get("message") or fallback))
        if len(items) > 1:
            message += f" (and {len(items) - 1} more error{'s' if len(items) > 2 else ''})"
        return PolicyError(message, location=self._location(first.get("location")), path=path)

    # -- opening -------------------------------------------------------------------------
    async def open(self) -> None:
        """Check the server's health and push every module; compile errors raise :class:`PolicyError`."""
        async with self._lock:
            if not self._opened:
                await self._push_everything()
                self._opened = True

    async def start(self) -> None:
        """The same as :meth:`open`."""
        await self.open()

    async def _session(self) -> _Client:
        if self._client is None:
            client = _Client(
                host=self._host,
                port=self._port,
                ssl=self._https,
                token=self._token,
                retries=0,
                timeout=self._timeout,
            )
            # aiohttp binds its session to the running event loop, so it is made here, not in __init__.
            await client._init_session()
            self._client = client
        return self._client

    async def _push_everything(self) -> None:
        try:
            with anyio.fail_after(self._open_timeout):
                client = await self._session()
                if not await client.check_health():
                    raise self._unreachable("GET /health did not answer 200 (not running, or not healthy)")
                if self._exclusive:
                    await self._remove_foreign(client)
                await self._push_modules(client)
        except TimeoutError:
            raise self._unreachable(f"no answer within {self._open_timeout:g} s while loading policies") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(exc) from None

    async def _remove_foreign(self, client: _Client) -> None:
        """Delete the server's modules that are not ours (dependents first, as OPA recompiles on delete)."""
        pending = [pid for pid in await client.get_policies_list() if pid not in self._ids]
        while pending:
            failed: list[tuple[str, DeletePolicyError]] = []
            for pid in pending:
                try:
                    await client.delete_policy(pid)
                except DeletePolicyError as exc:
                    failed.append((pid, exc))
            if len(failed) == len(pending):
                pid, err = failed[0]
                raise PolicyError(f"cannot remove module {pid!r} from the OPA server at {self._url}: {err.message}")
            pending = [pid for pid, _ in failed]

    async def _push_modules(self, client: _Client) -> None:
        """PUT every module; those that fail are retried while others succeed.

        OPA compiles each module against what it already holds, so a module
        calling a function of one not pushed yet fails at first; pushing in
        rounds until nothing more goes in settles any order of dependencies.
        """
        pending = list(self._ids)
        while pending:
            failed: list[tuple[str, RegoParseError]] = []
            for pid in pending:
                try:
                    # rego_compat=False: the client would otherwise rewrite v0 syntax and retry.
                    await client.update_policy_from_string(self._ids[pid].text, pid, rego_compat=False)
                except RegoParseError as exc:
                    failed.append((pid, exc))
            if len(failed) == len(pending):
                rejected = failed[0][1]
                raise self._error_from(
                    {"message": rejected.message, "errors": rejected.errors}, fallback="OPA rejected the policies"
                )
            pending = [pid for pid, _ in failed]

    async def _modules_missing(self, client: _Client) -> bool:
        """Whether the server lost our modules (it restarted, or someone deleted them)."""
        if self._probe_id is None:
            return False
        try:
            await client.get_policy(self._probe_id)
        except PolicyNotFoundError:
            return True
        return False

    # -- evaluating ----------------------------------------------------------------------
    async def evaluate(self, path: str, input_json: str) -> Any:
        """The value at ``path`` for this input, or :data:`UNDEFINED`; errors are :class:`PolicyError`."""
        check_data_path(path)
        if not self._opened:
            await self.open()
        value = await self._query(path, input_json)
        if value is UNDEFINED and await self._recover(path):
            value = await self._query(path, input_json)
        return value

    async def _recover(self, path: str) -> bool:
        """After an undefined result: push the modules again if the server lost them."""
        client = await self._session()
        try:
            with anyio.fail_after(self._timeout):
                missing = await self._modules_missing(client)
        except TimeoutError:
            raise self._unreachable(f"no answer within {self._timeout:g} s", path=path) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(exc, path=path) from None
        if not missing:
            return False
        async with self._lock:
            self._opened = False
            await self._push_everything()
            self._opened = True
        return True

    async def _query(self, path: str, input_json: str) -> Any:
        client = await self._session()
        # The input is already JSON text: splice it in rather than parse and serialize it again.
        body = b'{"input":' + input_json.encode("utf-8") + b"}"
        try:
            with anyio.fail_after(self._timeout):
                status, raw = await client.post_data(path[len("data.") :].replace(".", "/"), body, self._params)
        except TimeoutError:
            raise self._unreachable(f"no answer within {self._timeout:g} s", path=path) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(exc, path=path) from None
        try:
            doc = json.loads(raw)
        except ValueError:
            text = raw[:200].decode("utf-8", "replace")
            raise PolicyError(f"OPA answered HTTP {status} with a body that is not JSON: {text!r}", path=path) from None
        if status != 200:
            raise self._error_from(doc, path=path, fallback=f"OPA answered HTTP {status}")
        if not isinstance(doc, dict) or "result" not in doc:
            return UNDEFINED
        return doc["result"]

    # -- closing -------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the HTTP session (the server and its modules stay)."""
        client, self._client = self._client, None
        self._opened = False
        if client is not None:
            with anyio.CancelScope(shield=True):
                await client.close_connection()

    async def __aenter__(self) -> OPAEngine:
        try:
            await self.open()
        except BaseException:
            await self.aclose()  # __aexit__ will not run: do not leave the HTTP session open
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"OPAEngine({self._url!r}, version={self._version}, modules={len(self._ids)})"
