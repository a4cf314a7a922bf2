"""Test configuration: anyio on asyncio only."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """The framework runs on asyncio (the virtual clock reads its ready queue)."""
    return "asyncio"
