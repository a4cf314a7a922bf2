"""``/healthz`` (the process answers) and ``/readyz`` (the tree is managed and the store answers).

Both are open (no token), like a Kubernetes probe: they say nothing about
the tree beyond counts.
"""

from __future__ import annotations

import time
from typing import Any

from autonomic import __version__
from autonomic.api.http import JsonResponse, Request, Response
from autonomic.api.routing import Route

__all__ = ["ROUTES"]


async def healthz(req: Request) -> Response:
    """Alive: the supervisor's event loop answers."""
    return JsonResponse({"status": "ok", "version": __version__, "uptime_s": round(time.time() - req.ctx.started, 3)})


async def readyz(req: Request) -> Response:
    """Ready: the tree is attached, every managed entity has its manager, the store answers, not shutting down."""
    rt = req.ctx.runtime
    checks: dict[str, dict[str, Any]] = {}
    expected = [eid for eid in rt.management if rt.root.find(eid) is not None]
    running = sum(1 for eid in expected if eid in rt.managers)
    checks["tree"] = {"ok": rt.root.attached}
    checks["managers"] = {
        "ok": rt.root.attached and running == len(expected),
        "running": running,
        "expected": len(expected),
    }
    try:
        await req.ctx.knowledge.store.last_ids()
        checks["store"] = {"ok": True}
    except Exception as exc:  # any failure of the store means not ready; say which
        checks["store"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    checks["api"] = {"ok": not req.ctx.bus.closed}
    checks["actions"] = {"ok": rt.executor.accepting}  # false while shutting down
    ready = all(c["ok"] for c in checks.values())
    return JsonResponse({"ready": ready, "checks": checks}, 200 if ready else 503)


ROUTES = (
    Route(method="GET", pattern="/healthz", handler=healthz, name="healthz", summary="Liveness", auth=False),
    Route(method="GET", pattern="/readyz", handler=readyz, name="readyz", summary="Readiness", auth=False),
)
