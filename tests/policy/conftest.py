"""A real OPA server shared by the policy-engine tests of one session.

The binary comes from :func:`ensure_opa_binary` (PATH, the cache, or a
``go install`` build); if none can be had the tests fail, they never skip.
The session-wide server needs a session-wide event loop, so ``anyio_backend``
is session-scoped here (still asyncio only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from autonomic.policy.opa_server import OPAServer, OPAServerError, ensure_opa_binary


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """asyncio for the whole session: the shared OPA server outlives single tests."""
    return "asyncio"


@pytest.fixture(scope="session")
def opa_binary() -> Path:
    """The ``opa`` binary (built with Go on first use); a loud failure when impossible."""
    try:
        return ensure_opa_binary()
    except OPAServerError as exc:
        pytest.fail(f"no OPA binary for the integration tests: {exc}")


@pytest.fixture(scope="session")
async def opa_server(opa_binary: Path) -> AsyncIterator[OPAServer]:
    """One ``opa run --server`` on loopback for the session, stopped at the end."""
    server = OPAServer(opa_binary)
    try:
        await server.start()
    except OPAServerError as exc:
        pytest.fail(f"the OPA server would not start: {exc}")
    try:
        yield server
    finally:
        await server.stop()
