"""The VIPs of one instance on its interfaces, and their announcements: what the state
machine's AddVips, RemoveVips, SyncVips and SendGarp actions do (`VrrpNode` runs them)."""

from __future__ import annotations

from collections.abc import Callable

from lvstui.config.schema import VipAddress, VrrpInstance
from lvstui.errors import VrrpError
from lvstui.vrrp.addresses import AddressManager
from lvstui.vrrp.garp import Announcer
from lvstui.vrrp.params import all_vips

__all__ = ["VipHolder"]


class VipHolder:
    def __init__(
        self,
        addresses: AddressManager,
        announcer: Announcer,
        log: Callable[[str, str], None],
    ) -> None:
        self.addresses = addresses
        self.announcer = announcer
        self._log = log  # (level, message)
        self.on = False  # added by AddVips and not removed since

    async def add(self, inst: VrrpInstance) -> None:
        self.on = True
        for vip in all_vips(inst):
            await self.addresses.add(vip, inst.interface)

    async def remove(self, inst: VrrpInstance, force: bool = False) -> None:
        """Remove them all (`force`: even when this run did not add them, as at start after
        a crash); an address that will not go is logged, the others still go."""
        if not (self.on or force):
            return
        self.on = False
        for vip in all_vips(inst):
            try:
                await self.addresses.remove(vip, inst.interface)
            except VrrpError as exc:
                self._log("error", f"{inst.name}: {exc.message}")

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
                    await self.addresses.remove(vip, inst.interface)
                    synced.append(f"vrrp_instance {inst.name}: removed {vip.address} (MASTER)")
                except VrrpError as exc:
                    self._log("error", f"{inst.name}: {exc.message}")
        added: dict[str, list[str]] = {}
        for vip in now:
            if vip not in before:
                await self.addresses.add(vip, inst.interface)
                added.setdefault(vip.dev or inst.interface, []).append(vip.address)
                synced.append(f"vrrp_instance {inst.name}: added {vip.address} (MASTER)")
        for dev, addrs in added.items():
            await self.announcer.announce(dev, addrs, max(0, inst.garp_master_repeat))
        return synced

    async def announce(self, inst: VrrpInstance, refresh: bool) -> None:
        """Gratuitous ARPs / unsolicited NAs for every VIP, per device."""
        repeat = inst.garp_master_refresh_repeat if refresh else inst.garp_master_repeat
        by_dev: dict[str, list[str]] = {}
        for vip in all_vips(inst):
            by_dev.setdefault(vip.dev or inst.interface, []).append(vip.address)
        for dev, addrs in by_dev.items():
            await self.announcer.announce(dev, addrs, max(0, repeat))
