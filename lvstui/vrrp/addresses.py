"""Putting VIPs on interfaces: the `AddressManager` seam, pyroute2 and in-memory twins.

Adding is idempotent (an address already there is fine) and so is removing (an address
already gone is fine): a restart after a crash finds the VIPs it left behind and carries on.
IPv6 VIPs are added with IFA_F_NODAD: duplicate address detection would keep a freshly
taken-over VIP "tentative" (unusable) for a second, and VRRP already decided who owns it.
"""

from __future__ import annotations

import errno
import socket
from typing import Any, Protocol

from lvstui.config.schema import VipAddress
from lvstui.errors import VrrpError

__all__ = ["SCOPES", "AddressManager", "LazyIpRoute", "MemoryAddresses", "PyrouteAddresses"]

IFA_F_NODAD = 0x02
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}


class AddressManager(Protocol):
    async def add(self, vip: VipAddress, dev: str) -> None:
        """Add `vip` on `vip.dev or dev`. Idempotent."""
        ...

    async def remove(self, vip: VipAddress, dev: str) -> None:
        """Remove it. Idempotent."""
        ...

    async def present(self, vip: VipAddress, dev: str) -> bool: ...

    async def close(self) -> None: ...


class MemoryAddresses:
    """Records addresses per device; `log` keeps every operation in order."""

    def __init__(self) -> None:
        self.addrs: dict[str, set[str]] = {}
        self.log: list[tuple[str, str, str]] = []  # (op, dev, "addr/prefix")
        self.fail: bool = False  # make every operation raise (error paths)

    def _key(self, vip: VipAddress) -> str:
        return f"{vip.address}/{vip.prefixlen}"

    async def add(self, vip: VipAddress, dev: str) -> None:
        if self.fail:
            raise VrrpError("address add failed (simulated)")
        d = vip.dev or dev
        self.addrs.setdefault(d, set()).add(self._key(vip))
        self.log.append(("add", d, self._key(vip)))

    async def remove(self, vip: VipAddress, dev: str) -> None:
        if self.fail:
            raise VrrpError("address remove failed (simulated)")
        d = vip.dev or dev
        self.addrs.get(d, set()).discard(self._key(vip))
        self.log.append(("remove", d, self._key(vip)))

    async def present(self, vip: VipAddress, dev: str) -> bool:
        return self._key(vip) in self.addrs.get(vip.dev or dev, set())

    async def close(self) -> None:
        return None


class LazyIpRoute:
    """One pyroute2 AsyncIPRoute socket, opened on first use, closed by `close`."""

    def __init__(self) -> None:
        self._ipr: Any = None

    async def _get(self) -> Any:
        if self._ipr is None:
            from pyroute2 import AsyncIPRoute

            self._ipr = AsyncIPRoute()
        return self._ipr

    async def close(self) -> None:
        if self._ipr is not None:
            ipr, self._ipr = self._ipr, None
            ipr.close()


class PyrouteAddresses(LazyIpRoute):
    """Real addresses through pyroute2's AsyncIPRoute (one netlink socket, opened lazily)."""

    async def _index(self, dev: str) -> int:
        try:
            return socket.if_nametoindex(dev)
        except OSError as exc:
            raise VrrpError(f"interface {dev!r} not found", hint="check the VIP's dev") from exc

    def _args(self, vip: VipAddress, index: int) -> dict[str, Any]:
        args: dict[str, Any] = {
            "index": index,
            "address": vip.address,
            "prefixlen": vip.prefixlen,
        }
        if vip.family == 4:
            args["family"] = socket.AF_INET
            if vip.label:
                args["label"] = vip.label
            if vip.broadcast:
                args["broadcast"] = vip.broadcast
        else:
            args["family"] = socket.AF_INET6
            args["flags"] = IFA_F_NODAD
        if vip.scope:
            args["scope"] = SCOPES.get(vip.scope, 0) if not vip.scope.isdigit() else int(vip.scope)
        return args

    async def add(self, vip: VipAddress, dev: str) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        d = vip.dev or dev
        ipr = await self._get()
        try:
            await ipr.addr("add", **self._args(vip, await self._index(d)))
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise VrrpError(f"cannot add {vip.address}/{vip.prefixlen} on {d}: {exc}") from exc

    async def remove(self, vip: VipAddress, dev: str) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        d = vip.dev or dev
        try:
            index = socket.if_nametoindex(d)
        except OSError:
            return  # the interface is gone (deleted while MASTER): so are its addresses
        ipr = await self._get()
        args = self._args(vip, index)
        args.pop("flags", None)
        args.pop("label", None)
        args.pop("broadcast", None)
        try:
            await ipr.addr("del", **args)
        except NetlinkError as exc:
            if exc.code not in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ENODEV):
                raise VrrpError(
                    f"cannot remove {vip.address}/{vip.prefixlen} from {d}: {exc}"
                ) from exc

    async def present(self, vip: VipAddress, dev: str) -> bool:
        ipr = await self._get()
        index = await self._index(vip.dev or dev)
        fam = socket.AF_INET if vip.family == 4 else socket.AF_INET6
        found = False
        async for msg in await ipr.addr("dump", family=fam, index=index):
            if msg.get("address") == vip.address and msg["prefixlen"] == vip.prefixlen:
                found = True
        return found
