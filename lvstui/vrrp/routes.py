"""Routes and policy rules on the host: the `RouteManager` seam, pyroute2 and in-memory twins.

What keepalived's virtual_routes / virtual_rules (with a MASTER's VIPs) and static_routes /
static_rules (while it runs) do, through netlink. Like the addresses, adding is idempotent
(a route or rule already there is fine) and so is removing (one already gone is fine): a
restart after a crash finds what it left behind and carries on.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from lvstui.config.routes import IpRoute, IpRule, route_text, rule_text
from lvstui.errors import VrrpError
from lvstui.vrrp.addresses import SCOPES, LazyIpRoute

__all__ = ["Layer", "MemoryRoutes", "PyrouteRoutes", "RouteManager", "apply_diff"]

T = TypeVar("T")

RTNH_F_ONLINK = 4
# a rule without a priority gets this one (pyroute2's default), so removing finds it again
DEFAULT_RULE_PRIORITY = 32000
_GONE = (errno.ESRCH, errno.ENOENT, errno.ENODEV, errno.EADDRNOTAVAIL)


class RouteManager(Protocol):
    async def add_route(self, route: IpRoute) -> None:
        """Add it. Idempotent."""
        ...

    async def remove_route(self, route: IpRoute) -> None:
        """Remove it. Idempotent."""
        ...

    async def add_rule(self, rule: IpRule) -> None: ...

    async def remove_rule(self, rule: IpRule) -> None: ...

    async def close(self) -> None: ...


class MemoryRoutes:
    """Records routes and rules by their text; `log` keeps every operation in order."""

    def __init__(self) -> None:
        self.routes: set[str] = set()
        self.rules: set[str] = set()
        self.log: list[tuple[str, str]] = []  # (op, text): op in add/remove route/rule
        self.fail: bool = False

    def _op(self, op: str, text: str, into: set[str], add: bool) -> None:
        if self.fail:
            raise VrrpError(f"{op} {text} failed (simulated)")
        if add:
            into.add(text)
        else:
            into.discard(text)
        self.log.append((op, text))

    async def add_route(self, route: IpRoute) -> None:
        self._op("add route", route_text(route), self.routes, True)

    async def remove_route(self, route: IpRoute) -> None:
        self._op("remove route", route_text(route), self.routes, False)

    async def add_rule(self, rule: IpRule) -> None:
        self._op("add rule", rule_text(rule), self.rules, True)

    async def remove_rule(self, rule: IpRule) -> None:
        self._op("remove rule", rule_text(rule), self.rules, False)

    async def close(self) -> None:
        return None


def _family(version: int) -> int:
    return socket.AF_INET6 if version == 6 else socket.AF_INET


def _index(dev: str) -> int:
    try:
        return socket.if_nametoindex(dev)
    except OSError as exc:
        raise VrrpError(f"interface {dev!r} not found") from exc


def route_args(r: IpRoute) -> dict[str, Any]:
    """pyroute2's keywords for `r` (without the device's index, which needs the host)."""
    args: dict[str, Any] = {"dst": r.dst, "family": _family(r.family), "type": r.type}
    if r.via is not None:
        args["gateway"] = r.via
    if r.src is not None:
        args["prefsrc"] = r.src
    if r.table is not None:
        args["table"] = r.table
    if r.metric is not None:
        args["priority"] = r.metric
    if r.scope is not None:
        args["scope"] = SCOPES[r.scope]
    if r.proto is not None:
        args["proto"] = r.proto
    if r.onlink:
        args["flags"] = RTNH_F_ONLINK
    return args


def rule_args(r: IpRule) -> dict[str, Any]:
    args: dict[str, Any] = {
        "family": _family(r.family),
        "priority": DEFAULT_RULE_PRIORITY if r.priority is None else r.priority,
    }
    for key, net in (("src", r.src), ("dst", r.dst)):
        if net is not None:
            n = ipaddress.ip_network(net)
            args[key] = str(n.network_address)
            args[f"{key}_len"] = n.prefixlen
    if r.table is not None:
        args["table"] = r.table
        args["action"] = "FR_ACT_TO_TBL"
    else:
        args["action"] = {"blackhole": "FR_ACT_BLACKHOLE", "unreachable": "FR_ACT_UNREACHABLE"}.get(
            r.action or "", "FR_ACT_PROHIBIT"
        )
    if r.fwmark is not None:
        args["fwmark"] = r.fwmark
        args["fwmask"] = 0xFFFFFFFF if r.fwmask is None else r.fwmask
    if r.iif is not None:
        args["iifname"] = r.iif
    if r.oif is not None:
        args["oifname"] = r.oif
    return args


class PyrouteRoutes(LazyIpRoute):
    """Real routes and rules through pyroute2's AsyncIPRoute (one socket, opened lazily)."""

    async def _call(self, what: str, op: str, text: str, args: dict[str, Any]) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        ipr = await self._get()
        call = ipr.route if what == "route" else ipr.rule
        try:
            await call(op, **args)
        except NetlinkError as exc:
            ok = (errno.EEXIST,) if op == "add" else _GONE
            if exc.code not in ok:
                verb = "add" if op == "add" else "remove"
                raise VrrpError(f"cannot {verb} {what} {text!r}: {exc}") from exc

    async def add_route(self, route: IpRoute) -> None:
        args = route_args(route)
        if route.dev is not None:
            args["oif"] = _index(route.dev)
        await self._call("route", "add", route_text(route), args)

    async def remove_route(self, route: IpRoute) -> None:
        args = route_args(route)
        if route.dev is not None:
            try:
                args["oif"] = socket.if_nametoindex(route.dev)
            except OSError:
                return  # the interface is gone, and its routes with it
        for key in ("prefsrc", "flags"):
            args.pop(key, None)  # not needed to find it
        # any scope and any protocol, as `ip route del` asks: a route added with a scope
        # (link) is not found by the default one
        args["scope"], args["proto"] = 255, 0
        await self._call("route", "del", route_text(route), args)

    async def add_rule(self, rule: IpRule) -> None:
        await self._call("rule", "add", rule_text(rule), rule_args(rule))

    async def remove_rule(self, rule: IpRule) -> None:
        await self._call("rule", "del", rule_text(rule), rule_args(rule))


@dataclass(frozen=True, slots=True)
class Layer(Generic[T]):
    """One kind of thing held on the host (addresses, routes or rules) for `apply_diff`."""

    label: str  # "static route", "route"...
    old: Sequence[T]
    new: Sequence[T]
    add: Callable[[T], Awaitable[None]]
    remove: Callable[[T], Awaitable[None]]
    text: Callable[[T], str]


async def apply_diff(
    layers: Sequence[Layer[Any]], log: Callable[[str, str], None], where: str
) -> list[str]:
    """From each layer's old items to its new ones: removals first, last layer first (rules
    before the routes that they lead to, routes before the addresses they leave from), then
    additions, first layer first. A failure is logged under `where` and the others still go.
    Returns what was done, one line each."""
    lines: list[str] = []

    async def attempt(op: Awaitable[None], line: str) -> None:
        try:
            await op
        except VrrpError as exc:
            log("error", f"{where}: {exc.message}")
            return
        lines.append(line)

    for layer in reversed(layers):
        for item in layer.old:
            if item not in layer.new:
                await attempt(layer.remove(item), f"{layer.label} removed: {layer.text(item)}")
    for layer in layers:
        for item in layer.new:
            if item not in layer.old:
                await attempt(layer.add(item), f"{layer.label} added: {layer.text(item)}")
    return lines
