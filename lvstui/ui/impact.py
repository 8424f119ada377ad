"""What a drain or a removal does to its service's quorum, said before the operator confirms."""

from __future__ import annotations

from lvstui.model import Health, RealKey, RealServerView, ServiceView

__all__ = ["weight_impact"]


def _live(rs: RealServerView) -> bool:
    return not rs.is_sorry and rs.weight > 0 and rs.health is not Health.DOWN


def weight_impact(sv: ServiceView | None, real: RealKey, new_weight: int) -> str:
    """A warning when setting `real`'s weight to `new_weight` (0: drain, remove) leaves the
    service without a live server or takes it below its quorum; "" when it does neither."""
    if sv is None:
        return ""
    rs = next((r for r in sv.real_servers if r.key == real), None)
    was = rs.weight if rs is not None and _live(rs) else 0
    will = new_weight if rs is not None and rs.health is not Health.DOWN else 0
    after = sv.live_weight - was + will
    then = (
        f"the sorry server {sv.sorry_server} takes the new connections"
        if sv.sorry_server is not None
        else "quorum_down is notified"
    )
    if will == 0 and not any(_live(r) for r in sv.real_servers if r.key != real):
        end = then if sv.sorry_server is not None else "new connections have nowhere to go"
        return f"⚠ This leaves {sv.key} without a live server: {end}."
    if sv.quorum_up and after < sv.quorum:
        return (
            f"⚠ This takes {sv.key} below its quorum (live weight {sv.live_weight} → {after}, "
            f"quorum {sv.quorum}): {then}."
        )
    return ""
