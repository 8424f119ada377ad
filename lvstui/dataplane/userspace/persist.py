"""Persistence templates (pure): a client network keeps its real server for a while.

Like the kernel's persistence templates: the key is the client address masked with the
service's granularity (`netmask`); a template lives `timeout` seconds after it was last used
(a connection started or ended under it) and never expires while connections it controls
are open. A template is only honoured while its real server is still in the service and has
weight > 0 — the behaviour of the kernel with `expire_quiescent_template = 1`, so that a
drained (weight 0) server really gets no new connection, persistent or not.
"""

from __future__ import annotations

from collections.abc import Callable

from lvstui.dataplane.userspace.sched import RealServer

__all__ = ["Template", "Templates", "client_net"]


def client_net(addr_int: int, family: int, prefix: int) -> tuple[int, int]:
    bits = 32 if family == 4 else 128
    mask = ((1 << prefix) - 1) << (bits - prefix) if prefix else 0
    return (family, addr_int & mask)


class Template:
    __slots__ = ("dest", "expires", "ncontrol")

    def __init__(self, dest: RealServer, expires: float) -> None:
        self.dest = dest
        self.expires = expires
        self.ncontrol = 0


class Templates:
    def __init__(self) -> None:
        self.table: dict[tuple[int, int], Template] = {}

    def lookup(
        self, net: tuple[int, int], now: float, valid: Callable[[RealServer], bool]
    ) -> Template | None:
        t = self.table.get(net)
        if t is None:
            return None
        if (t.expires <= now and t.ncontrol == 0) or not valid(t.dest):
            self._drop(net, t)
            return None
        return t

    def bind(self, net: tuple[int, int], dest: RealServer, now: float, timeout: float) -> Template:
        t = Template(dest, now + timeout)
        self.table[net] = t
        dest.persist += 1
        return t

    def _drop(self, net: tuple[int, int], t: Template) -> None:
        if self.table.get(net) is t:
            del self.table[net]
            t.dest.persist -= 1

    def expire(self, now: float) -> None:
        for net, t in list(self.table.items()):
            if t.expires <= now and t.ncontrol == 0:
                self._drop(net, t)

    def clear(self) -> None:
        for net, t in list(self.table.items()):
            self._drop(net, t)
