"""Health checks ("tests de vie"): checkers, their scheduler, effective weights, genhash.

Entry points for the engine::

    from lvstui.health import HealthMonitor, build_checkers, effective_weight

See `lvstui.health.scheduler` for the monitor's API and rules.
"""

from __future__ import annotations

from lvstui.health.base import Checker, CheckResult, CheckSpec, CheckTarget, ScriptedChecker
from lvstui.health.build import build_checker, build_checkers
from lvstui.health.scheduler import HealthMonitor
from lvstui.health.weight import effective_weight

__all__ = [
    "CheckResult",
    "CheckSpec",
    "CheckTarget",
    "Checker",
    "HealthMonitor",
    "ScriptedChecker",
    "build_checker",
    "build_checkers",
    "effective_weight",
]
