"""keepalived's static_ipaddress, static_routes and static_rules: on the host from start to
stop whatever the VRRP state (keepalived adds them at start and removes them when it stops;
a reload adds and removes the difference). Addresses first, then routes, then rules; the
reverse on the way out. A failure is logged and the others still go on (or off)."""

from __future__ import annotations

from collections.abc import Callable

from lvstui.config.dump import vip_text
from lvstui.config.routes import route_text, rule_text
from lvstui.config.schema import GlobalDefs, VipAddress
from lvstui.vrrp.addresses import AddressManager
from lvstui.vrrp.routes import Layer, RouteManager, apply_diff

__all__ = ["Statics"]

_NONE = GlobalDefs()


class Statics:
    def __init__(
        self, addresses: AddressManager, routes: RouteManager, log: Callable[[str, str], None]
    ) -> None:
        self.addresses = addresses
        self.routes = routes
        self._log = log  # (level, message)
        self.held = _NONE  # what is on the host now (its static_* fields)

    # the loader refuses a static address without its dev: there is always one
    async def _add(self, vip: VipAddress) -> None:
        await self.addresses.add(vip, vip.dev or "")

    async def _remove(self, vip: VipAddress) -> None:
        await self.addresses.remove(vip, vip.dev or "")

    async def apply(self, new: GlobalDefs) -> list[str]:
        """From what is held to `new`; what was done, one line each."""
        old, r = self.held, self.routes
        layers = (
            Layer("static address", old.static_ipaddress, new.static_ipaddress, self._add,
                  self._remove, vip_text),
            Layer("static route", old.static_routes, new.static_routes, r.add_route,
                  r.remove_route, route_text),
            Layer("static rule", old.static_rules, new.static_rules, r.add_rule, r.remove_rule,
                  rule_text),
        )  # fmt: skip
        self.held = new
        return await apply_diff(layers, self._log, "static_*")

    async def remove(self) -> None:
        await self.apply(_NONE)
