"""The MAPE-K loop: monitor, analyze/plan (policy call), validate, execute."""

from autonomic.mape.analyze import Analysis, analyze
from autonomic.mape.execute import Executor, Outcome, invoke_effector
from autonomic.mape.loop import Manager
from autonomic.mape.monitor import build_input, summarize
from autonomic.mape.settings import (
    HistoryRule,
    ManagementSpec,
    ManagerSettings,
    Mode,
    PolicyBinding,
    Threshold,
    Triggers,
)
from autonomic.mape.validate import PlannedAction, validate

__all__ = [
    "Analysis",
    "Executor",
    "HistoryRule",
    "ManagementSpec",
    "Manager",
    "ManagerSettings",
    "Mode",
    "Outcome",
    "PlannedAction",
    "PolicyBinding",
    "Threshold",
    "Triggers",
    "analyze",
    "build_input",
    "invoke_effector",
    "summarize",
    "validate",
]
