"""The supervisor's HTTP API: entities, effectors, the journal, modes, events, health and metrics.

Server side: build an :class:`~autonomic.api.context.ApiContext` with
:func:`~autonomic.api.context.build_context`, serve it with
:func:`~autonomic.api.server.serve_api` (or call
:class:`~autonomic.api.app.ApiApp` in process). Client side:
:class:`~autonomic.api.client.ApiClient`. See ``docs/api.md``.

The names are imported from their modules on first use, so the client
commands start without loading the server (uvicorn, the policy engine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autonomic.api.app import ApiApp
    from autonomic.api.client import ApiClient, ApiError, Unreachable
    from autonomic.api.context import ApiContext, build_context
    from autonomic.api.errors import ApiConfigError
    from autonomic.api.events import EventBus
    from autonomic.api.server import serve_api

__all__ = [
    "ApiApp",
    "ApiClient",
    "ApiConfigError",
    "ApiContext",
    "ApiError",
    "EventBus",
    "Unreachable",
    "build_context",
    "serve_api",
]

_WHERE = {
    "ApiApp": "app",
    "ApiClient": "client",
    "ApiError": "client",
    "Unreachable": "client",
    "ApiContext": "context",
    "build_context": "context",
    "ApiConfigError": "errors",
    "EventBus": "events",
    "serve_api": "server",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'autonomic.api' has no attribute {name!r}")
    return getattr(importlib.import_module(f"autonomic.api.{module}"), name)
