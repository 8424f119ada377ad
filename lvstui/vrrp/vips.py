"""The VIPs of one instance on its interfaces, and their announcements: what the state
machine's AddVips, RemoveVips, SyncVips and SendGarp actions do (`VrrpNode` runs them).

keepalived's virtual_routes and virtual_rules go with the VIPs: added after them (a route
via a VIP's subnet or from a VIP needs the address first), removed before them."""

from __future__ import annotations

from collections.abc import Callable

from lvstui.config.routes import IpRoute, IpRule, route_text, rule_text
from lvstui.config.schema import VipAddress, VrrpInstance
from lvstui.errors import VrrpError
from lvstui.vrrp.accept import DropSet, VipDrops
from lvstui.vrrp.addresses import AddressManager
from lvstui.vrrp.garp import Announcer
from lvstui.vrrp.params import all_vips
from lvstui.vrrp.routes import Layer, MemoryRoutes, RouteManager, apply_diff
from lvstui.vrrp.vmac import MemoryVmacs, VmacLinks, vmac_spec

__all__ = ["VipHolder", "dropped", "held", "home"]

OWNER = 255


def home(inst: VrrpInstance) -> str:
    """Where a VIP without its own dev goes: the VMAC with use_vmac, else the interface."""
    return inst.use_vmac or inst.interface


def dropped(inst: VrrpInstance) -> tuple[str, ...]:
    """The addresses accept mode drops while MASTER: none for the address owner or with
    `accept` (keepalived's rule)."""
    if inst.accept or inst.priority == OWNER:
        return ()
    return tuple(v.address for v in all_vips(inst))


def held(inst: VrrpInstance) -> tuple[object, ...]:
    """What a MASTER puts on the host: a reload changing it syncs (SyncVips)."""
    return (all_vips(inst), inst.virtual_routes, inst.virtual_rules, dropped(inst))


class VipHolder:
    def __init__(
        self,
        addresses: AddressManager,
        announcer: Announcer,
        log: Callable[[str, str], None],
        routes: RouteManager | None = None,
        drops: DropSet | None = None,
        vmacs: VmacLinks | None = None,
    ) -> None:
        self.addresses = addresses
        self.vmacs = vmacs or MemoryVmacs()
        self.drops = drops or VipDrops()
        self.announcer = announcer
        self.routes = routes or MemoryRoutes()
        self._log = log  # (level, message)
        self.on = False  # added by AddVips and not removed since
        # the virtual routes and rules added with the VIPs (a reload compares with these)
        self._routes: tuple[IpRoute, ...] = ()
        self._rules: tuple[IpRule, ...] = ()

    async def add(self, inst: VrrpInstance) -> None:
        self.on = True
        # no_accept: the drop before the addresses, so no packet is taken in between
        await self.drops.hold(inst.name, dropped(inst))
        if inst.use_vmac:
            # made at start already (vrrp/vmac.py); again if it went with a reload
            await self.vmacs.ensure(vmac_spec(inst))
        for vip in all_vips(inst):
            await self.addresses.add(vip, home(inst))
        # each route and rule on its own: one the kernel refuses is logged, the rest go on
        self._routes, self._rules = (), ()
        await apply_diff(self._layers(inst), self._log, inst.name)
        self._routes, self._rules = inst.virtual_routes, inst.virtual_rules

    def _layers(self, new: VrrpInstance | None) -> tuple[Layer[IpRoute], Layer[IpRule]]:
        """From the routes and rules held to `new`'s (None: to none)."""
        r = self.routes
        return (
            Layer("route", self._routes, new.virtual_routes if new else (), r.add_route,
                  r.remove_route, route_text),
            Layer("rule", self._rules, new.virtual_rules if new else (), r.add_rule,
                  r.remove_rule, rule_text),
        )  # fmt: skip

    async def remove(self, inst: VrrpInstance, force: bool = False) -> None:
        """Remove them all (`force`: even when this run did not add them, as at start after
        a crash); an address that will not go is logged, the others still go."""
        if not (self.on or force):
            return
        self.on = False
        if force:  # what a crashed run may have left, too
            self._routes = tuple(dict.fromkeys((*self._routes, *inst.virtual_routes)))
            self._rules = tuple(dict.fromkeys((*self._rules, *inst.virtual_rules)))
        await apply_diff(self._layers(None), self._log, inst.name)
        self._routes, self._rules = (), ()
        for vip in all_vips(inst):
            try:
                await self.addresses.remove(vip, home(inst))
            except VrrpError as exc:
                self._log("error", f"{inst.name}: {exc.message}")
        await self._try_drop(inst, ())

    async def sync(self, inst: VrrpInstance, before: tuple[VipAddress, ...]) -> list[str]:
        """MASTER after a reload: only the difference, so the kept VIPs never blink.
        Returns what it did, one line each."""
        if not self.on:
            return []
        synced: list[str] = []
        now = all_vips(inst)
        for vip in before:
            if vip not in now:
                try:
                    await self.addresses.remove(vip, home(inst))
                    synced.append(f"vrrp_instance {inst.name}: removed {vip.address} (MASTER)")
                except VrrpError as exc:
                    self._log("error", f"{inst.name}: {exc.message}")
        added: dict[str, list[str]] = {}
        for vip in now:
            if vip not in before:
                await self.addresses.add(vip, home(inst))
                added.setdefault(vip.dev or home(inst), []).append(vip.address)
                synced.append(f"vrrp_instance {inst.name}: added {vip.address} (MASTER)")
        for dev, addrs in added.items():
            await self.announcer.announce(dev, addrs, max(0, inst.garp_master_repeat))
        await self._try_drop(inst, dropped(inst))
        return synced + await self._sync_routes(inst)

    async def _try_drop(self, inst: VrrpInstance, addrs: tuple[str, ...]) -> None:
        try:
            await self.drops.hold(inst.name, addrs)
        except VrrpError as exc:
            self._log("error", f"{inst.name}: {exc.message}")

    async def _sync_routes(self, inst: VrrpInstance) -> list[str]:
        """The difference in virtual routes and rules (gone rules first)."""
        done = await apply_diff(self._layers(inst), self._log, inst.name)
        self._routes, self._rules = inst.virtual_routes, inst.virtual_rules
        return [f"vrrp_instance {inst.name}: {line} (MASTER)" for line in done]

    async def announce(self, inst: VrrpInstance, refresh: bool) -> None:
        """Gratuitous ARPs / unsolicited NAs for every VIP, per device."""
        repeat = inst.garp_master_refresh_repeat if refresh else inst.garp_master_repeat
        by_dev: dict[str, list[str]] = {}
        for vip in all_vips(inst):
            by_dev.setdefault(vip.dev or home(inst), []).append(vip.address)
        for dev, addrs in by_dev.items():
            await self.announcer.announce(dev, addrs, max(0, repeat))
