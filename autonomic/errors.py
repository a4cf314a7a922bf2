"""The errors autonomic raises, each naming the place it comes from."""

from __future__ import annotations

__all__ = [
    "AutonomicError",
    "BlueprintError",
    "ConfigError",
    "DecisionError",
    "EffectorError",
    "PermanentEffectorError",
    "PolicyError",
    "SensorValueError",
    "StoreError",
    "TemporaryEffectorError",
]


class AutonomicError(Exception):
    """Base of every error autonomic raises on purpose."""


class PolicyError(AutonomicError):
    """A policy could not be loaded or evaluated (syntax, runtime, timeout).

    ``location`` is ``file:line[:col]`` where the engine said so.
    """

    def __init__(self, message: str, *, location: str | None = None, path: str | None = None) -> None:
        self.message = message
        self.location = location
        self.path = path
        where = f"{location}: " if location else ""
        query = f" (evaluating {path})" if path else ""
        super().__init__(f"{where}{message}{query}")


class DecisionError(AutonomicError):
    """A decision broke the contract (shape, unknown target or effector, bad arguments)."""


class BlueprintError(AutonomicError):
    """A blueprint has one or more problems; ``problems`` lists them with locations."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ConfigError(AutonomicError):
    """An entity's config does not fit its config class."""


class SensorValueError(AutonomicError):
    """A sensor value was rejected (NaN, infinite, wrong type)."""


class StoreError(AutonomicError):
    """The knowledge store failed."""


class EffectorError(AutonomicError):
    """Raised by an effector to report a failure with a clear message.

    Any exception from an effector becomes an ``error`` outcome; this one (and
    its two kinds) lets the author say whether trying again may help.
    """

    retryable: bool = False


class TemporaryEffectorError(EffectorError):
    """The effector failed, and a later attempt may succeed."""

    retryable = True


class PermanentEffectorError(EffectorError):
    """The effector failed, and trying again will not help."""
