"""The check load a configuration puts on its real servers, before and after sharing.

Checks of several services that resolve to the same target (see lvstui.health.probe) run as
one probe; `check_load` counts both, so `check-config` can say what sharing saves.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvstui.config.schema import Config
from lvstui.health.base import CheckSpec, resolve_spec

__all__ = ["CheckLoad", "check_load"]


@dataclass(frozen=True, slots=True)
class CheckLoad:
    checks: int  # configured (one per check of each real server of each service)
    checks_per_second: float
    probes: int  # after sharing: what the servers receive from this director
    probes_per_second: float


def check_load(config: Config) -> CheckLoad:
    specs: list[CheckSpec] = [
        resolve_spec(check, rs, vs)
        for vs in config.virtual_servers
        for rs in vs.real_servers
        for check in rs.checks
    ]
    unique = set(specs)
    return CheckLoad(
        checks=len(specs),
        checks_per_second=sum(1 / max(s.period, 0.001) for s in specs),
        probes=len(unique),
        probes_per_second=sum(1 / max(s.period, 0.001) for s in unique),
    )
