"""The supervisor daemon: a blueprint's tree, its managers, Knowledge and metrics, until told to stop."""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import attrs
import structlog

from autonomic.blueprint.load import Blueprint
from autonomic.blueprint.model import EngineSpec, StoreSpec
from autonomic.clock import Clock, SystemClock
from autonomic.errors import BlueprintError
from autonomic.knowledge.knowledge import Knowledge
from autonomic.knowledge.memory import MemoryStore
from autonomic.knowledge.postgres import PostgresStore
from autonomic.knowledge.sqlite import SQLiteStore
from autonomic.knowledge.store import KnowledgeStore
from autonomic.observability import Metrics
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.engine import PolicyEngine, PolicySet
from autonomic.runtime import Runtime

__all__ = ["Supervisor", "build_runtime", "make_engine", "make_store"]


def make_engine(spec: EngineSpec, policies: PolicySet, clock: Clock, *, url: str | None = None) -> PolicyEngine:
    """The policy engine a blueprint asks for (``url``: an OPA server the supervisor started)."""
    if spec.type == "embedded":
        return EmbeddedEngine(
            policies,
            offload=spec.offload and not clock.is_virtual,
            timeout=spec.timeout,
            clock=clock,
            max_threads=spec.threads,
        )
    if clock.is_virtual:
        # HTTP is real I/O: the virtual clock would jump while a query is in flight.
        raise BlueprintError(["engine: type opa needs the real clock"])
    try:
        from autonomic.policy.opa import OPAEngine
    except ImportError as exc:
        raise BlueprintError([f"engine: type opa needs the opa extra (pip install 'autonomic[opa]'): {exc}"]) from None
    target = spec.url or url
    if target is None:
        raise BlueprintError(["engine: type opa needs 'url', or a supervisor that starts OPA"])
    return OPAEngine(policies, target, timeout=spec.timeout)


def build_runtime(
    bp: Blueprint, knowledge: Knowledge, clock: Clock, *, engine: PolicyEngine | None = None, **options: Any
) -> Runtime:
    """A fresh tree from the blueprint with its managers, ready to run (``options`` go to Runtime)."""
    root, managed = bp.build()
    return Runtime(
        root,
        engine or make_engine(bp.engine, bp.policies, clock),
        knowledge,
        clock,
        management={e.id: spec for e, spec in managed},
        factory=bp.factory,
        **options,
    )


def make_store(spec: StoreSpec, base_dir: Path) -> KnowledgeStore:
    """The knowledge store a blueprint asks for."""
    if spec.type == "memory":
        return MemoryStore()
    if spec.type == "postgres":
        dsn = spec.dsn or (os.environ.get(spec.dsn_env) if spec.dsn_env else None)
        if not dsn:
            raise BlueprintError(["store: type postgres needs 'dsn' (or 'dsn_env' naming a set environment variable)"])
        return PostgresStore(dsn)
    path = Path(spec.path)
    return SQLiteStore(path if path.is_absolute() else base_dir / path, durability=spec.durability)


@attrs.define
class Supervisor:
    """Runs one blueprint. ``run`` returns when a signal, ``duration`` or ``stop()`` ends it."""

    blueprint: Blueprint
    clock: Clock = attrs.field(factory=SystemClock)
    store: KnowledgeStore | None = None
    metrics: Metrics = attrs.field(factory=Metrics)
    log: Any = attrs.field(factory=lambda: structlog.get_logger("autonomic.supervisor"))
    runtime: Runtime | None = attrs.field(init=False, default=None)
    _stop: anyio.Event = attrs.field(init=False, factory=anyio.Event)

    def stop(self) -> None:
        """Ask the supervisor to shut down."""
        self._stop.set()

    async def _on_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                self.log.info("signal", signal=signal.Signals(signum).name, action="shutting down")
                self.stop()
                return

    async def _stop_after(self, seconds: float) -> None:
        await self.clock.sleep(seconds)
        self.log.info("duration_reached", seconds=seconds)
        self.stop()

    async def run(
        self,
        *,
        duration: float | None = None,
        handle_signals: bool = True,
        on_ready: Callable[[Runtime], None] | None = None,
        view: bool = False,
    ) -> int:
        """Build, run, and on stop: hold new actions, drain in-flight ones, flush Knowledge. Returns 0."""
        bp = self.blueprint
        async with AsyncExitStack() as stack:
            url = None
            if bp.engine.type == "opa" and bp.engine.url is None:
                from autonomic.policy.opa_server import OPAServer

                server = await stack.enter_async_context(OPAServer())
                url = server.url
                self.log.info("opa_started", url=url)
            return await self._run(
                make_engine(bp.engine, bp.policies, self.clock, url=url),
                duration=duration,
                handle_signals=handle_signals,
                on_ready=on_ready,
                view=view,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(
        self,
        engine: PolicyEngine,
        *,
        duration: float | None,
        handle_signals: bool,
        on_ready: Callable[[Runtime], None] | None,
        view: bool,
    ) -> int:
        bp = self.blueprint
        store = self.store or make_store(bp.store, bp.base_dir)
        knowledge = Knowledge(store, self.clock)
        runtime = build_runtime(
            bp,
            knowledge,
            self.clock,
            engine=engine,
            metrics=self.metrics,
            restore_state=True,
            drain_timeout=bp.supervisor.drain_timeout,
        )
        root = runtime.root
        await engine.open()  # compile errors now, not in the first round
        await knowledge.open()
        try:
            self.runtime = runtime
            self.log.info(
                "supervisor_start",
                blueprint=bp.file,
                entities=sum(1 for _ in root.walk()),
                managers=len(runtime.management),
                engine=engine.name,
                policy_version=engine.version,
                store=type(store).__name__,
            )
            api = None
            if bp.api.enabled:
                from autonomic.api.context import build_context
                from autonomic.api.server import bind_socket

                # Tokens, the authz policy and the port are checked before anything runs.
                api = (
                    build_context(
                        runtime,
                        self.metrics,
                        tokens_file=bp.api.tokens_file,
                        authz=bp.api.authz,
                        base_dir=bp.base_dir,
                        max_body=bp.api.max_body,
                        public_metrics=bp.api.public_metrics,
                    ),
                    bind_socket(bp.api.host, bp.api.port),
                )
            async with anyio.create_task_group() as tg:
                if handle_signals:
                    tg.start_soon(self._on_signals)
                if duration is not None:
                    tg.start_soon(self._stop_after, duration)
                async with runtime.running():
                    if api is not None:
                        from autonomic.api.server import serve_api

                        await tg.start(functools.partial(serve_api, api[0], sock=api[1]))
                        self.log.info("api_listening", host=bp.api.host, port=api[1].getsockname()[1])
                    if on_ready is not None:
                        on_ready(runtime)
                    if view:
                        from autonomic.view import run_view

                        tg.start_soon(run_view, runtime)
                    await self._stop.wait()
                    runtime.executor.stop_accepting()
                    if bp.supervisor.stop_on_exit:
                        with anyio.move_on_after(bp.supervisor.drain_timeout):
                            await root.stop()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await knowledge.close()
                await engine.aclose()
        self.log.info("supervisor_stop", rounds=sum(m.rounds_run for m in runtime.managers.values()))
        return 0
