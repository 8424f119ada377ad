"""Run one VRRP instance from command-line flags: the lab's and the benchmark's peer.

    python -m lvstui.vrrp.run_instance --interface eth0 --vrid 51 --priority 100 \\
        --version 3 --advert-int 0.1 --vip 198.51.100.9/24 --status /tmp/st.json

SIGTERM / SIGINT stop it gracefully (priority-0 advert, VIPs removed); SIGKILL is a crash.
`--status FILE` is rewritten (atomically) on every transition and every 50 ms with the
state, drop counters and split-brain count, so tests can read it without a socket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys

from lvstui.clock import SystemClock
from lvstui.config.schema import (
    AuthType,
    Config,
    TrackWeight,
    VipAddress,
    VrrpInstance,
    VrrpScript,
    VrrpState,
    VrrpTrackProcess,
)
from lvstui.netutil import is_ipv6


def _vip(text: str) -> VipAddress:
    addr, _, plen = text.partition("/")
    fam6 = is_ipv6(addr)
    return VipAddress(addr, int(plen) if plen else (128 if fam6 else 32))


def build_config(a: argparse.Namespace) -> Config:
    scripts = tuple(
        VrrpScript(name=f"s{i}", script=s, interval=a.script_interval, weight=a.script_weight)
        for i, s in enumerate(a.track_script)
    )
    inst = VrrpInstance(
        name=a.name,
        interface=a.interface,
        virtual_router_id=a.vrid,
        state=VrrpState.MASTER if a.state.upper() == "MASTER" else VrrpState.BACKUP,
        priority=a.priority,
        advert_int=a.advert_int,
        version=a.version,
        auth_type=AuthType.PASS if a.auth_pass else None,
        auth_pass=a.auth_pass or "",
        virtual_ipaddress=tuple(_vip(v) for v in a.vip),
        nopreempt=a.nopreempt,
        preempt_delay=a.preempt_delay,
        unicast_src_ip=a.unicast_src_ip,
        unicast_peer=tuple(a.unicast_peer),
        track_script=tuple(s.name for s in scripts),
        track_interface=tuple(t.partition(":")[0] for t in a.track_interface),
        track_interface_weight=tuple(
            TrackWeight(name, int(weight))
            for name, _, weight in (t.partition(":") for t in a.track_interface)
            if weight
        ),
        notify=a.notify,
        track_process=tuple(t.partition(":")[0] for t in a.track_process),
    )
    # NAME[:WEIGHT]: a vrrp_track_process of that process name with that weight
    procs = tuple(
        VrrpTrackProcess(name, name, weight=int(weight or 0))
        for name, _, weight in (t.partition(":") for t in a.track_process)
    )
    return Config(vrrp_scripts=scripts, vrrp_instances=(inst,), vrrp_track_processes=procs)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lvstui.vrrp.run_instance")
    p.add_argument("--name", default="VI_1")
    p.add_argument("--interface", required=True)
    p.add_argument("--vrid", type=int, required=True)
    p.add_argument("--priority", type=int, default=100)
    p.add_argument("--state", default="BACKUP")
    p.add_argument("--version", type=int, default=2)
    p.add_argument("--advert-int", type=float, default=1.0)
    p.add_argument("--auth-pass", default="")
    p.add_argument("--vip", action="append", default=[])
    p.add_argument("--nopreempt", action="store_true")
    p.add_argument("--preempt-delay", type=float, default=0.0)
    p.add_argument("--unicast-src-ip")
    p.add_argument("--unicast-peer", action="append", default=[])
    p.add_argument("--track-script", action="append", default=[])
    p.add_argument(
        "--track-interface", action="append", default=[], metavar="IF[:WEIGHT]", help="track IF"
    )
    p.add_argument(
        "--track-process",
        action="append",
        default=[],
        metavar="NAME[:WEIGHT]",
        help="track the processes named NAME (/proc/PID/comm)",
    )
    p.add_argument("--script-interval", type=float, default=1.0)
    p.add_argument("--script-weight", type=int, default=0)
    p.add_argument("--notify")
    p.add_argument("--status", help="status JSON file, rewritten on every change")
    return p


async def amain(a: argparse.Namespace) -> int:
    from lvstui.vrrp.addresses import PyrouteAddresses
    from lvstui.vrrp.garp import RawAnnouncer
    from lvstui.vrrp.group import VrrpGroup, raw_transport_factory
    from lvstui.vrrp.routes import PyrouteRoutes
    from lvstui.vrrp.track import PyrouteLinks

    cfg = build_config(a)
    clock = SystemClock()
    addrs = PyrouteAddresses()
    announcer = RawAnnouncer()
    group = VrrpGroup(
        cfg,
        clock,
        raw_transport_factory,
        addrs,
        announcer=announcer,
        links=PyrouteLinks(),
        routes=PyrouteRoutes(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def write_status() -> None:
        if not a.status:
            return
        node = next(iter(group.nodes.values()))
        v = node.view()
        data = {
            "pid": os.getpid(),
            "state": v.state.value,
            "priority": v.priority,
            "master_addr": v.master_addr,
            "drops": dict(node.drops),
            "split_brains": node.split_brains,
            "adverts_in": node.adverts_in,
            "adverts_out": node.adverts_out,
            "reason": v.reason,
        }
        tmp = a.status + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, a.status)

    await group.start()
    try:
        while not stop.is_set():
            write_status()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
    finally:
        await group.stop(graceful=True)
        await addrs.close()
        announcer.close()
        write_status()
    return 0


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    return asyncio.run(amain(parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
