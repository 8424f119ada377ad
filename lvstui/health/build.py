"""From config to runnable checkers: `build_checker(check, real, vs)`.

Inheritance (connect_ip/port from the real server, delay_loop and virtualhost from the
service, misc_timeout from delay_loop) is resolved by `lvstui.health.base.resolve_spec`.
Raises CheckError when a check cannot be built (a misc_path that does not split).
"""

from __future__ import annotations

from lvstui.config.schema import (
    Check,
    HttpCheck,
    MiscCheck,
    PingCheck,
    RealServer,
    TcpCheck,
    VirtualServer,
)
from lvstui.health.base import Checker, resolve_spec
from lvstui.health.http import HttpChecker
from lvstui.health.misc import MiscChecker
from lvstui.health.ping import PingChecker
from lvstui.health.tcp import TcpChecker

__all__ = ["build_checker", "build_checkers"]


def build_checker(check: Check, real: RealServer, vs: VirtualServer) -> Checker:
    spec = resolve_spec(check, real, vs)
    if isinstance(check, TcpCheck):
        return TcpChecker(spec)
    if isinstance(check, HttpCheck):
        return HttpChecker(spec, check)
    if isinstance(check, MiscCheck):
        return MiscChecker(spec, check)
    if isinstance(check, PingCheck):
        return PingChecker(spec)
    raise TypeError(f"unknown check type {type(check).__name__}")


def build_checkers(real: RealServer, vs: VirtualServer) -> list[Checker]:
    """Every check of a real server, in config order."""
    return [build_checker(c, real, vs) for c in real.checks]
