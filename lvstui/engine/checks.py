"""The engine's side of the health checks: which real servers are checked, and with what.

Every real server that has checks in the configuration is registered with the HealthSource
under its (service, real server) pair; a reload updates the checkers in place (what is known
about a check that did not change is kept) and removes those that are gone. The health the
source already knows is copied into the service's runtime record, so a reload never flips a
server by itself.
"""

from __future__ import annotations

import contextlib

from lvstui.config.schema import Config
from lvstui.config.state import service_key_of
from lvstui.engine.desired import RealHealth
from lvstui.engine.edges import CheckerFactory, HealthSource, Pair
from lvstui.engine.runtime import RuntimeTable
from lvstui.model import CheckView, RealKey

__all__ = ["check_views", "register_checks"]


def register_checks(
    monitor: HealthSource,
    checkers: CheckerFactory,
    runtime: RuntimeTable,
    config: Config,
    *,
    reload: bool,
) -> None:
    wanted: set[Pair] = set()
    for vs in config.virtual_servers:
        sk = service_key_of(vs)
        for rs in vs.real_servers:
            if not rs.checks:
                continue
            pair = (sk, RealKey(rs.ip, rs.port))
            wanted.add(pair)
            if reload:
                monitor.update(pair, checkers(rs, vs), alpha=vs.alpha)
            else:
                monitor.add(pair, checkers(rs, vs), alpha=vs.alpha)
            with contextlib.suppress(KeyError):  # nothing known yet
                runtime.set_health(
                    pair, RealHealth(monitor.health(pair), monitor.dynamic_weight(pair))
                )
    for key in list(monitor.keys()):
        if key not in wanted:
            monitor.remove(key)
            runtime.forget_health(key)


def check_views(monitor: HealthSource | None, pair: Pair) -> tuple[CheckView, ...]:
    """The checks of `pair` as the console shows them (none when it has none, or no longer)."""
    if monitor is None:
        return ()
    try:
        return monitor.views(pair)
    except KeyError:
        return ()
