"""The weight the dataplane should get for a real server, from everything that decides it.

Pure. `None` means "not in the table" (removed); `0` means "in the table, no new
connections" (IPVS quiescence: existing connections carry on).

Order of precedence:
1. health DOWN: 0 with inhibit_on_failure (keepalived: keep it, weight 0), else None;
2. drained by the operator: 0;
3. operator override (`ctl weight`): that value;
4. misc_dynamic weight (script exit code - 2), when the script gave one;
5. the configured weight.

UNKNOWN health (not checked yet, alpha unset) counts as up, like keepalived.
"""

from __future__ import annotations

from lvstui.config.schema import Check, FileCheck, MiscCheck
from lvstui.model import Health

__all__ = ["effective_weight", "sets_weight"]


def sets_weight(check: Check) -> bool:
    """Whether a check's results carry a weight of their own (misc_dynamic's exit code, a
    FILE_CHECK's value × weight added to the configured one)."""
    if isinstance(check, MiscCheck):
        return check.misc_dynamic
    return isinstance(check, FileCheck) and check.weight != 0


def effective_weight(
    config_weight: int,
    health: Health,
    dynamic_weight: int | None = None,
    inhibit_on_failure: bool = False,
    override: int | None = None,
    drained: bool = False,
) -> int | None:
    if health is Health.DOWN:
        return 0 if inhibit_on_failure else None
    if drained:
        return 0
    if override is not None:
        return max(0, override)
    if dynamic_weight is not None:
        return max(0, dynamic_weight)
    return max(0, config_weight)
