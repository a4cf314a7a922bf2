"""autonomic: a MAPE-K framework for self-managing systems, with decisions written as Rego policies.

The public surface, for users who subclass entities and run supervisors::

    from autonomic import Entity, Sensor, effector, Lifecycle
"""

from autonomic.clock import Clock, SystemClock, VirtualClock
from autonomic.effector import EffectorSpec, effector
from autonomic.enrichers import Aggregate, Count, QuorumUp, Rate, Rolling
from autonomic.entity import Entity, EntityContext, NoConfig
from autonomic.errors import (
    AutonomicError,
    BlueprintError,
    ConfigError,
    DecisionError,
    EffectorError,
    PermanentEffectorError,
    PolicyError,
    SensorValueError,
    StoreError,
    TemporaryEffectorError,
)
from autonomic.lifecycle import Lifecycle, LifecycleState
from autonomic.mape.settings import ManagementSpec, ManagerSettings, Mode, PolicyBinding, Threshold, Triggers
from autonomic.runtime import Runtime
from autonomic.sensor import Sensor, SensorState

__version__ = "0.1.0"

__all__ = [
    "Aggregate",
    "AutonomicError",
    "BlueprintError",
    "Clock",
    "ConfigError",
    "Count",
    "DecisionError",
    "EffectorError",
    "EffectorSpec",
    "Entity",
    "EntityContext",
    "Lifecycle",
    "LifecycleState",
    "ManagementSpec",
    "ManagerSettings",
    "Mode",
    "NoConfig",
    "PermanentEffectorError",
    "PolicyBinding",
    "PolicyError",
    "QuorumUp",
    "Rate",
    "Rolling",
    "Runtime",
    "Sensor",
    "SensorState",
    "SensorValueError",
    "StoreError",
    "SystemClock",
    "TemporaryEffectorError",
    "Threshold",
    "Triggers",
    "VirtualClock",
    "__version__",
    "effector",
]
