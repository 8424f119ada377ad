"""Builders shared by the engine tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from lvstui.config.schema import Config, RealServer, TcpCheck, VirtualServer
from lvstui.model import Event, RealKey, ServiceKey, VrrpRunState, VrrpView

VIP = "198.51.100.9"
SK = ServiceKey.parse(f"TCP {VIP}:80")
R = [RealKey(f"192.0.2.{i}", 80) for i in (1, 2, 3)]
SORRY = RealKey("192.0.2.55", 80)


def service(**kw: object) -> VirtualServer:
    base: dict[str, object] = {
        "ip": VIP,
        "port": 80,
        "lb_algo": "wrr",
        "real_servers": tuple(
            RealServer(r.addr, r.port, weight=2, checks=(TcpCheck(),)) for r in R
        ),
    }
    base.update(kw)
    return VirtualServer(**base)  # type: ignore[arg-type]


def config(**kw: object) -> Config:
    return Config(path="/nonexistent/config.toml", virtual_servers=(service(**kw),))


__all__ = ["SK", "SORRY", "VIP", "FakeVrrp", "R", "config", "service"]


class FakeVrrp:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.state = VrrpRunState.BACKUP
        self.stopped: list[bool] = []
        self.dropped: dict[str, int] = {}

    async def start(self) -> None:
        pass

    async def stop(self, graceful: bool = True) -> None:
        self.stopped.append(graceful)

    async def reload(self, config: object) -> list[str]:
        return []  # VRRP settings are not what these tests change

    def views(self) -> tuple[VrrpView, ...]:
        return (VrrpView("vi", "eth0", 51, self.state, 100, 100, 3, 0.1),)

    def drops(self) -> dict[str, int]:
        return dict(self.dropped)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()
