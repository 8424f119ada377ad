"""Whether a VIP is announced: a pure function of what the engine knows about it.

A VIP is announced while every service on it has quorum, the dataplane serves it, and the
director is not drained; otherwise it is withdrawn, and the reason says which condition
failed first, so `lvstui status` and the console can show it. "Every service": an ECMP
router sends any port of the VIP to this director, so one service without quorum would
black-hole its share of that port's traffic; the VIP goes as a whole."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lvstui.announce.base import Announcer

__all__ = ["Decision", "Reason", "ServiceView", "VipView", "apply", "decide", "decide_all"]


class Reason(enum.Enum):
    ANNOUNCED = "announced"
    DRAINED = "director drained"
    DRAINING = "director draining: announced less preferred"
    NOT_SERVED = "dataplane does not serve the VIP"
    NO_SERVICES = "no service configured on the VIP"
    NO_QUORUM = "a service has no quorum"


@dataclass(frozen=True, slots=True)
class ServiceView:
    """What the decision needs of one virtual service: its name (for the reason) and quorum."""

    name: str
    quorum: bool


@dataclass(frozen=True, slots=True)
class VipView:
    vip: str
    services: Sequence[ServiceView]
    served: bool


@dataclass(frozen=True, slots=True)
class Decision:
    vip: str
    announce: bool
    reason: Reason
    # The services without quorum, when that is the reason (empty otherwise).
    detail: tuple[str, ...] = ()

    @property
    def graceful(self) -> bool:
        """Announced, but marked less preferred (director drain, DRAIN_METRIC)."""
        return self.announce and self.reason is Reason.DRAINING

    def text(self) -> str:
        if self.detail:
            return f"{self.reason.value}: {', '.join(self.detail)}"
        return self.reason.value


def decide(view: VipView, *, drained: bool, draining: bool = False) -> Decision:
    """`draining`: the director drain has begun (announce less preferred what would be
    announced); `drained`: it is safe (withdraw everything)."""
    # Drain comes first: an operator's order outranks the health of the VIP.
    if drained:
        return Decision(view.vip, False, Reason.DRAINED)
    d = _health(view)
    # a VIP that health withdraws stays withdrawn: draining never announces more
    return Decision(view.vip, True, Reason.DRAINING) if draining and d.announce else d


def _health(view: VipView) -> Decision:
    if not view.services:
        return Decision(view.vip, False, Reason.NO_SERVICES)
    # Quorum before "served": a service whose real servers all failed is out of the table
    # too, and the operator wants the cause (which service lost quorum), not its effect.
    lost = tuple(s.name for s in view.services if not s.quorum)
    if lost:
        return Decision(view.vip, False, Reason.NO_QUORUM, lost)
    if not view.served:
        return Decision(view.vip, False, Reason.NOT_SERVED)
    return Decision(view.vip, True, Reason.ANNOUNCED)


def decide_all(
    views: Iterable[VipView], *, drained: bool, draining: bool = False
) -> dict[str, Decision]:
    return {v.vip: decide(v, drained=drained, draining=draining) for v in views}


def apply(announcer: Announcer, decisions: Mapping[str, Decision]) -> None:
    """Make the announcer match the decisions: announce the yes, withdraw the no, and
    withdraw whatever the announcer carries that no decision covers (a VIP removed by a
    reload), and announce again what is announced with the wrong preference (a drain begun
    or ended). Withdrawals first, so a failing announce never leaves a stale route behind."""
    have = announcer.graceful()
    for vip in sorted(have):
        d = decisions.get(vip)
        if d is None or not d.announce:
            announcer.withdraw(vip)
    for vip, d in sorted(decisions.items()):
        if d.announce and have.get(vip) != d.graceful:
            announcer.announce(vip, graceful=d.graceful)
