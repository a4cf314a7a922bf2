"""Integration tests of the ready-made entities, and what they share."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from autonomic.entity import Entity
from autonomic.lifecycle import Lifecycle

__all__ = ["actual", "is_ready", "is_up", "wait_until"]


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Return once ``condition()`` holds, checking every 10 ms; fail after ``timeout`` seconds saying ``what``."""
    with anyio.move_on_after(timeout):
        while not condition():
            await anyio.sleep(0.01)
        return
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# Read through functions: mypy narrows repeated attribute reads (``assert e.up`` would make a later
# ``assert not e.up`` "unreachable"), but the state changes between them.
def actual(e: Entity) -> Lifecycle:
    """The entity's actual lifecycle state."""
    return e.lifecycle.actual


def is_up(e: Entity) -> bool:
    """Whether the entity is up."""
    return e.up


def is_ready(e: Entity) -> bool:
    """Whether the entity is ready."""
    return e.ready
