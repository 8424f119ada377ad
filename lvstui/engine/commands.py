"""Operator commands (drain, undrain, weight, add, remove) → new overrides (pure).

`plan_command` checks a command against the running configuration, the current plans and
what the dataplane can do — every check in one place, each failure a CommandError with a
hint — and says what to do: the overrides to persist and apply, the service they touch,
the answer, and what happens to a drain being followed. The engine applies it (`Engine.call`).

Weights need no check here: `SetWeight` and `AddReal` refuse a weight outside 0-65535 when
they are made (model.py), whether they come from the console or the control socket.
Reload is not an override: the engine runs it (`reload.py`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from lvstui.config.fit import family_problem, port_problem
from lvstui.config.schema import Config, VirtualServer
from lvstui.config.state import AddedReal, Overrides, service_key_of
from lvstui.dataplane.base import Capabilities
from lvstui.engine.desired import ServicePlan
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

__all__ = ["AfterCommand", "CommandPlan", "OverrideCommand", "plan_command"]

OverrideCommand = Drain | Undrain | SetWeight | AddReal | RemoveReal


class AfterCommand(enum.Enum):
    """What becomes of the real server's drain track once the command is applied."""

    KEEP = "keep"
    END = "end"  # undrain: the track ends now, and says so (DrainProgress NONE)
    FORGET = "forget"  # remove: the track goes with the real server


@dataclass(frozen=True, slots=True)
class CommandPlan:
    service: ServiceKey
    message: str
    overrides: Overrides | None  # None: nothing to change
    after: AfterCommand = AfterCommand.KEEP


def plan_command(
    cmd: OverrideCommand,
    config: Config,
    overrides: Overrides,
    plans: Mapping[ServiceKey, ServicePlan],
    caps: Capabilities,
    drains: Mapping[tuple[ServiceKey, RealKey], DrainTrack],
) -> CommandPlan:
    """Validate `cmd` and say what it does (CommandError when it cannot be done)."""
    vs = _service(config, cmd.service)
    pair = (cmd.service, cmd.real)
    configured = any((r.ip, r.port) == (cmd.real.addr, cmd.real.port) for r in vs.real_servers)
    if not isinstance(cmd, AddReal):
        _need_real(plans, cmd.service, cmd.real)
    match cmd:
        case AddReal():
            return _plan_add(cmd, vs, overrides, plans, caps, configured)
        case Drain(timeout=timeout):
            if timeout is not None and timeout < 0:
                raise CommandError("drain timeout must be ≥ 0")
            track = drains.get(pair)
            state = (track.state if track else DrainState.DRAINING).value
            return CommandPlan(
                cmd.service,
                f"draining {cmd.real} of {cmd.service} ({state})",
                overrides.drain(pair, timeout),
            )
        case Undrain():
            if pair not in overrides.drained:
                return CommandPlan(
                    cmd.service, f"{cmd.real} of {cmd.service} was not drained", None
                )
            return CommandPlan(
                cmd.service,
                f"{cmd.real} of {cmd.service} back in rotation",
                overrides.undrain(pair),
                AfterCommand.END,
            )
        case SetWeight(weight=weight):
            what = "configured weight" if weight is None else f"weight {weight}"
            return CommandPlan(
                cmd.service,
                f"{cmd.real} of {cmd.service}: {what}",
                overrides.set_weight(pair, weight),
            )
        case RemoveReal():
            return CommandPlan(
                cmd.service,
                f"{cmd.real} removed from {cmd.service}",
                overrides.remove(pair, configured=configured),
                AfterCommand.FORGET,
            )


def _plan_add(
    cmd: AddReal,
    vs: VirtualServer,
    overrides: Overrides,
    plans: Mapping[ServiceKey, ServicePlan],
    caps: Capabilities,
    configured: bool,
) -> CommandPlan:
    kind = cmd.lb_kind or vs.lb_kind
    problem = port_problem(vs.port, vs.fwmark is not None, kind, cmd.real.port)
    if problem:  # the loader's rule: what it refuses cannot come in this way
        raise CommandError(
            f"cannot add {cmd.real} to {cmd.service}: {problem}",
            hint=f"give the real server's port, e.g. {cmd.real.addr}:{vs.port}",
        )
    pair = (cmd.service, cmd.real)
    if _has_real(plans, cmd.service, cmd.real):
        raise CommandError(
            f"{cmd.real} is already a real server of {cmd.service}",
            hint="use `ctl weight` to change its weight",
        )
    if kind not in caps.lb_kinds:
        raise CommandError(f"the {caps.name} dataplane cannot forward with {kind.value}")
    problem = family_problem(cmd.service.family, cmd.real.addr, kind)
    if problem:
        raise CommandError(
            f"cannot add {cmd.real} to {cmd.service}: {problem}",
            hint="add a real server of the service's address family, or forward with TUN (lb_kind)",
        )
    if configured and pair in overrides.removed:  # back from `ctl remove`
        ov = overrides.restore(pair)
        cfg_w = next(
            r.weight for r in vs.real_servers if (r.ip, r.port) == (cmd.real.addr, cmd.real.port)
        )
        if cmd.weight != cfg_w:
            ov = ov.set_weight(pair, cmd.weight)
        return CommandPlan(cmd.service, f"{cmd.real} restored in {cmd.service}", ov)
    return CommandPlan(
        cmd.service,
        f"{cmd.real} added to {cmd.service} with weight {cmd.weight}",
        overrides.add(pair, AddedReal(cmd.weight, cmd.lb_kind)),
    )


def _service(config: Config, key: ServiceKey) -> VirtualServer:
    for vs in config.virtual_servers:
        if service_key_of(vs) == key:
            return vs
    known = ", ".join(str(service_key_of(v)) for v in config.virtual_servers)
    raise CommandError(
        f"no virtual service {key}",
        hint=f"known services: {known}" if known else "the configuration has no service",
    )


def _has_real(plans: Mapping[ServiceKey, ServicePlan], key: ServiceKey, real: RealKey) -> bool:
    plan = plans.get(key)
    return plan is not None and any(r.key == real for r in plan.reals)


def _need_real(plans: Mapping[ServiceKey, ServicePlan], key: ServiceKey, real: RealKey) -> None:
    if not _has_real(plans, key, real):
        plan = plans.get(key)
        known = ", ".join(str(r.key) for r in plan.reals) if plan else ""
        raise CommandError(
            f"{real} is not a real server of {key}",
            hint=f"its real servers: {known}" if known else "it has no real server",
        )
