"""The blueprint's settings, as values checked at the edge with cattrs."""

from __future__ import annotations

from typing import Literal

import attrs

from autonomic.mape.settings import GateSettings

__all__ = ["ApiSpec", "EngineSpec", "ManagerModel", "StoreSpec", "SupervisorSpec", "ThresholdModel", "TriggersModel"]


@attrs.frozen(kw_only=True)
class ThresholdModel:
    """``triggers.thresholds[]``: a sensor crossing ``above`` or ``below``."""

    sensor: str
    above: float | None = None
    below: float | None = None
    children: bool = False


@attrs.frozen(kw_only=True)
class TriggersModel:
    """``manager.triggers``."""

    sensors: list[str] = attrs.field(factory=list)
    child_sensors: list[str] = attrs.field(factory=list)
    thresholds: list[ThresholdModel] = attrs.field(factory=list)
    escalations: bool = True
    lifecycle: bool = True


@attrs.frozen(kw_only=True)
class ManagerModel:
    """An entity's ``manager`` block (merged over the blueprint's ``defaults``)."""

    interval: float = 10.0
    min_gap: float = 1.0
    start_spread: float = 1.0
    mode: Literal["enforce", "dry-run", "approve", "paused"] = "enforce"
    triggers: TriggersModel = attrs.field(factory=TriggersModel)
    history_retention_s: float = 3600.0
    history_sensors: list[str] = attrs.field(factory=list)
    poll_timeout: float = 10.0
    cooldowns: dict[str, float] = attrs.field(factory=dict)
    gates: GateSettings = attrs.field(factory=GateSettings)


@attrs.frozen(kw_only=True)
class EngineSpec:
    """``engine``: which policy engine evaluates decisions."""

    type: Literal["embedded", "opa"] = "embedded"
    timeout: float = 5.0
    #: embedded: evaluate on worker threads under ``timeout`` (safe against a runaway policy), or
    #: inline on the event loop (several times the throughput for large fleets; no timeout)
    offload: bool = True
    threads: int = 2
    #: the OPA server's base URL (``type: opa``); when absent, the supervisor starts one
    url: str | None = None


@attrs.frozen(kw_only=True)
class StoreSpec:
    """``store``: where Knowledge persists."""

    type: Literal["sqlite", "memory", "postgres"] = "sqlite"
    #: the SQLite file, relative to the blueprint's folder
    path: str = "autonomic.db"
    durability: Literal["normal", "full"] = "normal"
    #: the PostgreSQL connection string (``type: postgres``), or the environment variable holding it
    dsn: str | None = None
    dsn_env: str | None = None


@attrs.frozen(kw_only=True)
class ApiSpec:
    """``api``: the supervisor's HTTP API (see docs/api.md)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8470
    #: ``name:token`` lines, relative to the blueprint's folder (or AUTONOMIC_API_TOKENS)
    tokens_file: str | None = None
    #: operator ``autonomic.authz`` policy files or folders, relative to the blueprint's folder
    authz: list[str] = attrs.field(factory=list)
    max_body: int = 65536
    public_metrics: bool = False


@attrs.frozen(kw_only=True)
class SupervisorSpec:
    """``supervisor``: the daemon's own settings."""

    #: seconds to wait for in-flight actions on shutdown
    drain_timeout: float = 30.0
    #: stop the whole tree (``stop`` effectors) when the supervisor exits
    stop_on_exit: bool = False
