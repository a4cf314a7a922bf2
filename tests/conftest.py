"""Test configuration: anyio on asyncio only."""

from __future__ import annotations

import pytest

# Fixtures that start real servers, shared by every test folder.
pytest_plugins = ["tests.support.postgres"]


@pytest.fixture
def anyio_backend() -> str:
    """The framework runs on asyncio (the virtual clock reads its ready queue)."""
    return "asyncio"
