"""Operator commands checked and turned into overrides (engine/commands.py), without an
engine: every refusal with its reason, and what each command changes."""

from __future__ import annotations

import pytest

from lvstui.config.schema import LbKind
from lvstui.config.state import Overrides
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.commands import AfterCommand, CommandPlan, OverrideCommand, plan_command
from lvstui.engine.desired import plan_service
from lvstui.engine.drain import DrainTrack
from lvstui.errors import CommandError
from lvstui.model import (
    AddReal,
    Drain,
    DrainState,
    RealKey,
    RemoveReal,
    ServiceKey,
    SetWeight,
    Undrain,
)
from tests.engine.builders import SK, R, config

CFG = config()
PLANS = {SK: plan_service(CFG.virtual_servers[0], Overrides(), {}, True)}
CAPS = MemoryDataplane().capabilities
NEW = RealKey("192.0.2.77", 80)
OTHER_SK = ServiceKey.parse("TCP 198.51.100.99:80")


def plan(
    cmd: OverrideCommand,
    ov: Overrides | None = None,
    drains: dict[tuple[ServiceKey, RealKey], DrainTrack] | None = None,
) -> CommandPlan:
    return plan_command(cmd, CFG, ov or Overrides(), PLANS, CAPS, drains or {})


@pytest.mark.parametrize(
    ("cmd", "error"),
    [
        (Drain(OTHER_SK, R[0]), "no virtual service TCP 198.51.100.99:80"),
        (Drain(SK, NEW), "192.0.2.77:80 is not a real server of TCP 198.51.100.9:80"),
        (Undrain(SK, NEW), "is not a real server"),
        (SetWeight(SK, NEW, 3), "is not a real server"),
        (RemoveReal(SK, NEW), "is not a real server"),
        (Drain(SK, R[0], timeout=-1.0), "drain timeout must be ≥ 0"),
        (AddReal(SK, R[0], 1), "already a real server"),
        (AddReal(SK, RealKey("2001:db8::7", 80), 1), "needs TUN"),
        (AddReal(SK, RealKey("192.0.2.77", 0), 1), "cannot add 192.0.2.77:0"),
    ],
)
def test_refused_with_the_reason(cmd: OverrideCommand, error: str) -> None:
    with pytest.raises(CommandError, match=error.replace("(", r"\(")):
        plan(cmd)


def test_a_dataplane_without_the_forwarding_method_refuses_it() -> None:
    from lvstui.dataplane.userspace.forwarder import UserspaceDataplane

    caps = UserspaceDataplane().capabilities  # NAT only
    with pytest.raises(CommandError, match="cannot forward with DR"):
        plan_command(AddReal(SK, NEW, 1, LbKind.DR), CFG, Overrides(), PLANS, caps, {})


def test_what_each_command_changes() -> None:
    pair = (SK, R[0])
    p = plan(Drain(SK, R[0], timeout=5.0))
    assert p.overrides is not None and p.overrides.drained == {pair: 5.0}
    assert (p.service, p.after, p.message) == (
        SK,
        AfterCommand.KEEP,
        "draining 192.0.2.1:80 of TCP 198.51.100.9:80 (draining)",
    )
    # a drain already followed says where it is
    safe = {pair: DrainTrack(DrainState.SAFE, 0.0, 0.0)}
    assert plan(Drain(SK, R[0]), drains=safe).message.endswith("(safe)")

    drained = Overrides().drain(pair, None)
    p = plan(Undrain(SK, R[0]), drained)
    assert p.overrides is not None and p.overrides.drained == {}
    assert p.after is AfterCommand.END
    p = plan(Undrain(SK, R[0]))  # not drained: nothing to change
    assert p.overrides is None and p.message.endswith("was not drained")

    p = plan(SetWeight(SK, R[0], 7))
    assert p.overrides is not None and p.overrides.weights == {pair: 7}
    assert plan(SetWeight(SK, R[0], None)).message.endswith("configured weight")

    p = plan(RemoveReal(SK, R[0]))
    assert p.overrides is not None and pair in p.overrides.removed
    assert p.after is AfterCommand.FORGET

    p = plan(AddReal(SK, NEW, 4))
    assert p.overrides is not None and (SK, NEW) in p.overrides.added
    assert p.message == "192.0.2.77:80 added to TCP 198.51.100.9:80 with weight 4"


def test_adding_back_a_removed_configured_server_restores_it() -> None:
    pair = (SK, R[0])
    removed = Overrides().remove(pair, configured=True)
    plans = {SK: plan_service(CFG.virtual_servers[0], removed, {}, True)}

    def add(weight: int) -> CommandPlan:
        return plan_command(AddReal(SK, R[0], weight), CFG, removed, plans, CAPS, {})

    p = add(2)  # its configured weight: no override left
    assert p.overrides is not None and p.overrides.is_empty()
    assert p.message == "192.0.2.1:80 restored in TCP 198.51.100.9:80"
    p = add(9)
    assert p.overrides is not None and p.overrides.weights == {pair: 9}
