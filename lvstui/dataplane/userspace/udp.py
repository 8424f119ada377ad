"""UDP for the userspace forwarder: one upstream socket per client address (a flow), idle
flows closed by the dataplane's sweeper, PROXY v2 on every datagram when asked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from lvstui.dataplane.userspace import proxyproto
from lvstui.dataplane.userspace.context import ConnContext
from lvstui.dataplane.userspace.flow import Flow
from lvstui.dataplane.userspace.service import VirtualService

__all__ = ["Flow", "UdpListener", "end_flow", "to_server"]

log = logging.getLogger(__name__)


def _new_flow(
    ctx: ConnContext, svc: VirtualService, data: bytes, client: tuple[str, int]
) -> Flow | None:
    if len(svc.flows) >= ctx.max_udp_flows:
        return None  # a flood of new sources must not exhaust the descriptors: drop
    now = ctx.clock()
    dest, tpl = svc.pick(client[0], client[1], b"", now)
    if dest is None:
        return None
    sock = socket.socket(dest.family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect((dest.addr, dest.port))
    except OSError:
        sock.close()
        svc.release(tpl, now)
        return None
    flow = Flow(client, dest, sock, now)
    flow.tpl = tpl
    svc.flows[client] = flow
    svc.totals.conns += 1
    dest.conns += 1
    dest.inact += 1  # the kernel counts UDP "connections" as inactive
    dest.check_overload_up()
    asyncio.get_running_loop().add_reader(sock.fileno(), _from_server, ctx, svc, flow)
    return flow


def to_server(ctx: ConnContext, svc: VirtualService, data: bytes, client: tuple[str, int]) -> None:
    flow = svc.flows.get(client)
    if flow is None:
        flow = _new_flow(ctx, svc, data, client)
        if flow is None:
            return
    flow.last = ctx.clock()
    if svc.want.proxy_protocol == 2:
        vip = (svc.key.addr, svc.key.port)
        data = proxyproto.build_v2(client[:2], vip, udp=True) + data
    try:
        flow.sock.send(data)
    except OSError:
        return  # like a dropped datagram
    n = len(data)
    tot, d = svc.totals, flow.dest
    tot.inpkts += 1
    tot.inbytes += n
    d.inpkts += 1
    d.inbytes += n


def _from_server(ctx: ConnContext, svc: VirtualService, flow: Flow) -> None:
    udp = svc.udp
    for _ in range(64):
        try:
            data = flow.sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # ICMP errors (port unreachable) surface here: ignore like a drop
        flow.last = ctx.clock()
        if udp is None:
            return
        udp.sendto(data, flow.client)
        n = len(data)
        tot, d = svc.totals, flow.dest
        tot.outpkts += 1
        tot.outbytes += n
        d.outpkts += 1
        d.outbytes += n


def end_flow(ctx: ConnContext, svc: VirtualService, flow: Flow) -> None:
    if svc.flows.get(flow.client) is flow:
        del svc.flows[flow.client]
    with contextlib.suppress(Exception):
        asyncio.get_running_loop().remove_reader(flow.sock.fileno())
    flow.sock.close()
    flow.dest.inact -= 1
    flow.dest.check_overload_down()
    svc.release(flow.tpl, ctx.clock())


class UdpListener(asyncio.DatagramProtocol):
    def __init__(self, ctx: ConnContext, svc: VirtualService) -> None:
        self.ctx = ctx
        self.svc = svc

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        client = (str(addr[0]), int(addr[1]))
        to_server(self.ctx, self.svc, data, client)

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: %s", self.svc.key, exc)
