"""The embedded policy engine: regorus, in process.

Modules are parsed once per thread and evaluated many times. A regorus engine
must stay on the thread that made it (using it elsewhere panics with an
exception that is not an ``Exception``), so each thread gets its own, built
from the same :class:`PolicySet`. Results cross the boundary as JSON, which
keeps ``null`` apart from undefined and sets of objects intact.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio
import regorus

from autonomic.clock import Clock, SystemClock
from autonomic.errors import PolicyError
from autonomic.policy.engine import UNDEFINED, PolicySet, check_data_path

__all__ = ["EmbeddedEngine", "policy_error_from"]

#: compiled engines of this thread, by policy version. Module level on purpose: a regorus
#: engine must also be *dropped* on its own thread, and a per-instance threading.local
#: would drop every thread's engines from whichever thread collects the instance.
_THREAD_ENGINES = threading.local()
_ENGINES_PER_THREAD = 8

_LOCATION = re.compile(r"-->\s*(?P<loc>[^\n]+?:\d+:\d+)")
_ERROR = re.compile(r"^error:\s*(?P<msg>.+)$", re.MULTILINE)


def policy_error_from(exc: BaseException, *, path: str | None = None) -> PolicyError:
    """Turn a regorus exception into a :class:`PolicyError`: file and line, no Rust backtrace."""
    text = str(exc).split("Stack backtrace:", 1)[0].strip()
    loc = _LOCATION.search(text)
    err = _ERROR.search(text)
    message = err.group("msg").strip() if err else (text.splitlines()[-1] if text else type(exc).__name__)
    return PolicyError(message, location=loc.group("loc").strip() if loc else None, path=path)


class EmbeddedEngine:
    """The default engine: regorus in process, one compiled engine per thread.

    ``offload`` evaluates on worker threads (so a slow policy cannot stall the
    event loop, and ``timeout`` applies); it is off under a virtual clock, where
    evaluation runs inline to keep scenarios deterministic.
    """

    def __init__(
        self,
        policies: PolicySet,
        *,
        offload: bool = False,
        timeout: float = 5.0,
        clock: Clock | None = None,
        max_threads: int = 2,
    ) -> None:
        self._policies = policies
        self._offload = offload
        self._timeout = timeout
        self._clock = clock or SystemClock()
        # Slots are taken before the timeout starts, so waiting for a free thread under load
        # makes a round late, not failed; the thread limiter bounds the threads themselves
        # (an evaluation abandoned on timeout keeps its thread until it ends).
        self._slots = anyio.CapacityLimiter(max_threads) if offload else None
        self._limiter = anyio.CapacityLimiter(max_threads) if offload else None
        self._version = policies.version
        self._key = f"{self._version}:{len(policies.sources)}"
        self._engine()  # fail fast on syntax errors

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path], **kw: Any) -> EmbeddedEngine:
        """Load Rego files and folders (tests excluded from folders) into a new engine."""
        return cls(PolicySet.from_paths(paths), **kw)

    @property
    def name(self) -> str:
        """``embedded``."""
        return "embedded"

    @property
    def version(self) -> str:
        """The policy version."""
        return self._version

    @property
    def packages(self) -> Sequence[str]:
        """The packages loaded."""
        return self._policies.packages

    @property
    def policies(self) -> PolicySet:
        """The loaded sources."""
        return self._policies

    def _compile(self) -> Any:
        engine, message = self._build()
        if message is not None:
            raise policy_error_from(RuntimeError(message)) from None
        return engine

    def _build(self) -> tuple[Any, str | None]:
        """A compiled engine, or the error (as text: see _query, no traceback may hold an engine)."""
        engine = regorus.Engine()
        for src in self._policies.sources:
            try:
                engine.add_policy(src.path, src.text)
            except Exception as exc:
                return None, str(exc)
        return engine, None

    def _engine(self) -> Any:
        cache: dict[str, Any] | None = getattr(_THREAD_ENGINES, "cache", None)
        if cache is None:
            cache = _THREAD_ENGINES.cache = {}
        engine = cache.pop(self._key, None)
        if engine is None:
            engine = self._compile()
        cache[self._key] = engine  # most recently used last
        while len(cache) > _ENGINES_PER_THREAD:
            del cache[next(iter(cache))]  # dropped here, on its own thread
        return engine

    def _query(self, path: str, input_json: str) -> tuple[str, RuntimeError | None]:
        """Run the query; failures come back as a value.

        No reference to the engine may outlive this frame: a traceback holding
        it could carry it to another thread, and dropping it there panics.
        """
        engine = self._engine()
        try:
            engine.set_input_json(input_json)
            return engine.eval_query_as_json(path), None
        except Exception as exc:
            return "", RuntimeError(str(exc))
        finally:
            del engine

    def evaluate_sync(self, path: str, input_doc: Any = None, *, input_json: str | None = None) -> Any:
        """Evaluate on the calling thread; the value, or :data:`UNDEFINED`."""
        check_data_path(path)
        if input_json is None:
            try:
                input_json = json.dumps(input_doc, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise PolicyError(f"input is not JSON: {exc}", path=path) from None
        raw, error = self._query(path, input_json)
        if error is not None:
            raise policy_error_from(error, path=path) from None
        result = json.loads(raw).get("result") or []
        if not result:
            return UNDEFINED
        return result[0]["expressions"][0]["value"]

    async def evaluate(self, path: str, input_json: str) -> Any:
        """Evaluate, on a worker thread under the timeout when offloading, else inline."""
        if not self._offload or self._slots is None:
            return self.evaluate_sync(path, input_json=input_json)
        try:
            async with self._slots, self._clock.timeout(self._timeout):
                return await anyio.to_thread.run_sync(
                    lambda: self.evaluate_sync(path, input_json=input_json),
                    limiter=self._limiter,
                    abandon_on_cancel=True,
                )
        except TimeoutError:
            raise PolicyError(f"evaluation timed out after {self._timeout:g} s", path=path) from None

    async def open(self) -> None:
        """Nothing to do: modules were compiled when the engine was made."""

    async def aclose(self) -> None:
        """Nothing to release: engines go with their threads."""
