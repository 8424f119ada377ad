"""A virtual service of the userspace forwarder: real servers, scheduling, counters (no I/O)."""

from __future__ import annotations

import asyncio
import socket
import zlib

from lvstui.dataplane.base import DesiredDest, DesiredService, ObservedDest, ObservedService
from lvstui.dataplane.rates import Estimator
from lvstui.dataplane.reconcile import mask_prefix
from lvstui.dataplane.userspace.flow import Flow
from lvstui.dataplane.userspace.persist import Template, Templates, client_net
from lvstui.dataplane.userspace.sched import (
    MaglevHashing,
    RealServer,
    Scheduler,
    addr_fold,
    make_scheduler,
)
from lvstui.model import RealKey, Stats
from lvstui.netutil import is_ipv6

__all__ = ["Totals", "VirtualService", "addr_int", "stats_of"]


def addr_int(host: str) -> int:
    if is_ipv6(host):
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, host.split("%", 1)[0]), "big")
    return int.from_bytes(socket.inet_aton(host), "big")


class Totals:
    __slots__ = ("conns", "inbytes", "inpkts", "outbytes", "outpkts")

    def __init__(self) -> None:
        self.conns = self.inpkts = self.outpkts = self.inbytes = self.outbytes = 0


def stats_of(o: Totals | RealServer) -> Stats:
    return Stats(o.conns, o.inpkts, o.outpkts, o.inbytes, o.outbytes)


class VirtualService:
    """One virtual service of the forwarder: settings, real servers in kernel order, scheduler,
    persistence templates, counters; plus its listening socket or UDP flows."""

    def __init__(self, want: DesiredService) -> None:
        self.key = want.key
        self.want = want
        self.dests: list[RealServer] = []  # kernel order: newest first
        self.by_key: dict[RealKey, RealServer] = {}
        self.sched: Scheduler = make_scheduler(
            want.scheduler, self.dests, want.flags, want.key.addr
        )
        self.apphash: MaglevHashing | None = None
        self.totals = Totals()
        self.est = Estimator()
        self.dest_est: dict[RealServer, Estimator] = {}
        self.templates = Templates()
        self.lsock: socket.socket | None = None
        self.udp: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], Flow] = {}
        self.configure(want)

    # --- settings ------------------------------------------------------------------------------

    def configure(self, want: DesiredService) -> None:
        old = self.want
        self.want = want
        if old.scheduler.lower() != want.scheduler.lower() or old.flags != want.flags:
            self.sched = make_scheduler(want.scheduler, self.dests, want.flags, want.key.addr)
        self.apphash = (
            MaglevHashing(self.dests, frozenset({"mh-fallback"})) if want.app_hash else None
        )
        self.persist = float(want.persistence_timeout or 0)
        self.prefix = mask_prefix(want.netmask, want.key.family)
        if not self.persist:
            self.templates.clear()

    def _changed(self, d: RealServer | None, *, added: bool = False, index: int = -1) -> None:
        for s in (self.sched, self.apphash):
            if s is None:
                continue
            if added and d is not None:
                s.add_dest(d)
            elif index >= 0 and d is not None:
                s.del_dest(d, index)
            elif d is not None:
                s.upd_dest(d)

    def add_dest(self, want: DesiredDest) -> None:
        d = RealServer(
            want.key.addr, want.key.port, want.weight, want.u_threshold, want.l_threshold
        )
        d.key = want.key
        d.fwd = want.fwd
        self.dests.insert(0, d)  # like list_add_rcu: at the head
        self.by_key[want.key] = d
        self.dest_est[d] = Estimator()
        self._changed(d, added=True)

    def edit_dest(self, want: DesiredDest) -> None:
        d = self.by_key[want.key]
        d.set_weight(want.weight)
        d.set_thresholds(want.u_threshold, want.l_threshold)
        d.fwd = want.fwd
        self._changed(d)

    def del_dest(self, key: RealKey) -> None:
        d = self.by_key.pop(key)
        i = self.dests.index(d)
        del self.dests[i]
        self.dest_est.pop(d, None)
        self._changed(d, index=i)

    # --- choosing a real server ----------------------------------------------------------------

    def _valid_template(self, d: RealServer) -> bool:
        return d.weight > 0 and self.by_key.get(d.key) is d

    def pick(
        self, host: str, port: int, first: bytes, now: float
    ) -> tuple[RealServer | None, Template | None]:
        """A real server for a new connection from (host, port), and its template."""
        tpl: Template | None = None
        net: tuple[int, int] | None = None
        if self.persist:
            net = client_net(addr_int(host), self.key.family, self.prefix)
            tpl = self.templates.lookup(net, now, self._valid_template)
            if tpl is not None:
                tpl.expires = now + self.persist
                tpl.ncontrol += 1
                return tpl.dest, tpl
        if self.apphash is not None and first:
            dest = self.apphash.lookup_key(zlib.crc32(first.split(b"\r\n", 1)[0]), 0)
        else:
            dest = self.sched.schedule(addr_fold(host), port)
        if dest is not None and net is not None:
            tpl = self.templates.bind(net, dest, now, self.persist)
            tpl.ncontrol += 1
        return dest, tpl

    def release(self, tpl: Template | None, now: float) -> None:
        if tpl is not None:
            tpl.ncontrol -= 1
            tpl.expires = max(tpl.expires, now + self.persist)

    # --- observing -----------------------------------------------------------------------------

    def observed(self) -> ObservedService:
        dests = tuple(
            ObservedDest(
                key=d.key,
                weight=d.weight,
                fwd=d.fwd,
                active_conns=d.active,
                inact_conns=d.inact,
                persist_conns=d.persist,
                u_threshold=d.u_threshold,
                l_threshold=d.l_threshold,
                stats=self.dest_est[d].read(stats_of(d)),
            )
            for d in self.dests
        )
        w = self.want
        return ObservedService(
            key=self.key,
            scheduler=w.scheduler,
            flags=frozenset(w.flags),
            persistence_timeout=w.persistence_timeout,
            netmask=w.netmask,
            dests=dests,
            stats=self.est.read(stats_of(self.totals)),
            proxy_protocol=w.proxy_protocol,
            app_hash=w.app_hash,
            udp_idle_timeout=w.udp_idle_timeout,
        )

    def sample(self) -> None:
        self.est.sample(stats_of(self.totals))
        for d, e in self.dest_est.items():
            e.sample(stats_of(d))
