"""The errors of the API package that are not HTTP answers."""

from __future__ import annotations

from autonomic.errors import AutonomicError

__all__ = ["ApiConfigError"]


class ApiConfigError(AutonomicError):
    """The API cannot start as configured (tokens, authorization policy, address)."""
