"""From config to runnable checkers: `build_checker(check, real, vs)`.

Inheritance (connect_ip/port from the real server, delay_loop and virtualhost from the
service, misc_timeout from delay_loop) is resolved by `lvstui.health.base.resolve_spec`.
Raises CheckError when a check cannot be built (a misc_path that does not split).
"""

from __future__ import annotations

from lvstui.config.schema import (
    BfdCheck,
    Check,
    DnsCheck,
    FileCheck,
    HttpCheck,
    MiscCheck,
    PingCheck,
    RealServer,
    SmtpCheck,
    TcpCheck,
    UdpCheck,
    VirtualServer,
)
from lvstui.health.base import Checker, resolve_spec
from lvstui.health.bfd import BfdChecker
from lvstui.health.dns import DnsChecker
from lvstui.health.file import FileChecker
from lvstui.health.http import HttpChecker
from lvstui.health.misc import MiscChecker
from lvstui.health.ping import PingChecker
from lvstui.health.smtp import SmtpChecker
from lvstui.health.tcp import TcpChecker
from lvstui.health.udp import UdpChecker

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
    if isinstance(check, SmtpCheck):
        return SmtpChecker(spec, check)
    if isinstance(check, DnsCheck):
        return DnsChecker(spec, check)
    if isinstance(check, UdpCheck):
        return UdpChecker(spec, check)
    if isinstance(check, FileCheck):
        return FileChecker(spec, check)
    if isinstance(check, BfdCheck):
        return BfdChecker(spec, check, check.vtysh)
    raise TypeError(f"unknown check type {type(check).__name__}")


def build_checkers(real: RealServer, vs: VirtualServer) -> list[Checker]:
    """Every check of a real server, in config order."""
    return [build_checker(c, real, vs) for c in real.checks]
