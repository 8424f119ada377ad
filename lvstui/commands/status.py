"""`lvstui status`: VRRP instances, quorum per service, health and checker last-run ages.

lvstui status [--json] [--socket PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from lvstui.commands._client import EXIT_OK, add_socket_argument, with_client
from lvstui.commands.group import group_json, render_group
from lvstui.control.client import SocketClient
from lvstui.model import (
    AnnounceView,
    CheckView,
    ProcessView,
    RealServerView,
    ServiceView,
    Snapshot,
    VrrpView,
)

__all__ = ["add_arguments", "render_status", "run", "status_json"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    add_socket_argument(parser)


def age(then: float | None, now: float) -> str:
    """`4.2s`, `3m05s`, `2h10m`; `never` for None."""
    if then is None:
        return "never"
    d = max(0.0, now - then)
    if d < 60:
        return f"{d:.1f}s"
    if d < 3600:
        return f"{int(d // 60)}m{int(d % 60):02d}s"
    return f"{int(d // 3600)}h{int(d % 3600 // 60):02d}m"


def _vrrp_line(v: VrrpView, now: float) -> str:
    vips = ",".join(v.vips) or "-"
    master = v.master_addr or ("self" if v.state.value == "MASTER" else "-")
    since = age(v.last_transition, now)
    prio = f"{v.priority}" + (f"/{v.base_priority}" if v.priority != v.base_priority else "")
    line = (
        f"  {v.name:<16} {v.state.value:<7} prio {prio:<8} vrid {v.vrid:<3} "
        f"{v.interface:<10} v{v.version} master {master:<15} since {since}  vips {vips}"
    )
    if v.sync_group:
        line += f"  sync {v.sync_group}"
    if v.reason:
        line += f"  ({v.reason})"
    return line


def _check_line(c: CheckView, now: float) -> str:
    result = "ok" if c.last_ok else ("FAILED" if c.last_ok is False else "-")
    latency = f" {c.last_latency * 1000:.0f}ms" if c.last_latency is not None else ""
    reason = f": {c.last_reason}" if c.last_reason and not c.last_ok else ""
    # a check that never ran has no age and no result: "last run never[: why]"
    ran = "never" if c.last_run is None else f"{age(c.last_run, now)} ago {result}{latency}"
    extra = "".join(
        (
            f", one probe for {c.shared} servers" if c.shared > 1 else "",
            ", STALE: no completed run in 2 x (period + budget)" if c.stale else "",
        )
    )
    return (
        f"      {c.kind:<10} {c.target:<32} last run {ran}"
        f"{reason}  (every {c.period:g}s, {c.failures}/{c.runs} failed{extra})"
    )


def _real_line(r: RealServerView) -> str:
    tags = []
    if r.is_sorry:
        tags.append("sorry server")
    if r.drain.value != "none":
        tags.append(f"drain {r.drain.value}")
    if r.weight_override is not None:
        tags.append(f"weight override {r.weight_override}")
    if r.runtime_added:
        tags.append("added at run time")
    if not r.in_table:
        tags.append("not in table")
    if r.ramp_until is not None:
        tags.append("slow start: ramping")
    extra = f"  [{', '.join(tags)}]" if tags else ""
    return (
        f"    {r.key!s:<24} {r.health.value:<7} weight {r.weight}/{r.weight_config} "
        f"{r.fwd.value:<3} active {r.active_conns} inactive {r.inact_conns}{extra}"
    )


def _service_lines(s: ServiceView, now: float) -> list[str]:
    state = "UP" if s.quorum_up else "DOWN"
    hyst = f" hysteresis {s.hysteresis}" if s.hysteresis else ""
    sorry = ""
    if s.sorry_server is not None:
        sorry = f"; sorry server {s.sorry_server} {'ACTIVE' if s.sorry_active else 'idle'}"
    name = f" ({s.name})" if s.name else ""
    table = f"; hash table {s.hash_table}" if s.hash_table else ""
    out = [
        f"  {s.key}{name} {s.scheduler} {s.lb_kind.value}: quorum {state} "
        f"(live weight {s.live_weight}, quorum {s.quorum}{hyst}){sorry}{table}"
    ]
    for r in s.real_servers:
        out.append(_real_line(r))
        out.extend(_check_line(c, now) for c in r.checks)
    return out


def render_status(snap: Snapshot, now: float | None = None) -> str:
    now = snap.time if now is None else now
    head = f"dataplane {snap.dataplane or '?'}"
    if snap.dataplane_reason:
        head += f" ({snap.dataplane_reason})"
    if snap.router_id:
        head = f"router_id {snap.router_id}, " + head
    if snap.config_path:
        head += f", config {snap.config_path}"
    lines = [head]
    if snap.process is not None:
        lines.append(_process_line(snap.process))
    lines.append("VRRP:")
    lines += [_vrrp_line(v, now) for v in snap.vrrp] or ["  (no vrrp_instance)"]
    lines.append("Virtual servers:")
    for s in snap.services:
        lines += _service_lines(s, now)
    if not snap.services:
        lines.append("  (no virtual server)")
    if snap.group is not None:
        lines += render_group(snap.group, now)
    if snap.announce is not None:
        lines.append("Announced over BGP (docs/bgp.md):")
        if snap.announce.director != "normal":  # `ctl drain-director`
            a = snap.announce
            lines.append(f"  director drain: {a.director.upper()} ({a.director_detail})")
        lines += [
            f"  {v.vip}: {'ANNOUNCED' if v.announced else 'WITHDRAWN'}"
            + ("" if v.reason == "announced" else f" ({v.reason})")
            for v in snap.announce.vips
        ] or ["  (no decision yet)"]
        lines += _peer_lines(snap.announce)
    return "\n".join(lines) + "\n"


def _peer_lines(a: AnnounceView) -> list[str]:
    """The BGP sessions as the routing daemon says ([lvstui.announce] daemon)."""
    if not a.daemon:
        return []
    out = [f"BGP peers ({a.daemon}):"]
    if a.peers_error:
        out.append(f"  cannot ask {a.daemon}: {a.peers_error}")
    for p in a.peers:
        extra = f", {p.prefixes_sent} route(s) sent" if p.prefixes_sent is not None else ""
        info = f" ({p.info})" if p.info else ""
        out.append(f"  {p.name}: {p.state} since {p.since}{info}{extra}")
    if not a.peers and not a.peers_error:
        out.append("  (none yet)")
    return out


def _process_line(p: ProcessView) -> str:
    """`daemon: 57 tasks, 41/65536 descriptors, 48.2 MiB resident`"""
    return (
        f"daemon: {p.tasks} tasks, {p.descriptors}/{p.descriptor_limit} descriptors, "
        f"{p.rss / (1 << 20):.1f} MiB resident"
    )


def _ago(then: float | None, now: float) -> float | None:
    return None if then is None else round(max(0.0, now - then), 3)


def status_json(snap: Snapshot, now: float | None = None) -> dict[str, Any]:
    now = snap.time if now is None else now
    return {
        "time": snap.time,
        "router_id": snap.router_id,
        "config": snap.config_path,
        "dataplane": snap.dataplane,
        "dataplane_reason": snap.dataplane_reason,
        "process": None
        if snap.process is None
        else {
            "tasks": snap.process.tasks,
            "descriptors": snap.process.descriptors,
            "descriptor_limit": snap.process.descriptor_limit,
            "rss_bytes": snap.process.rss,
        },
        "group": group_json(snap.group, now),
        "announce": None
        if snap.announce is None
        else [
            {"vip": v.vip, "announced": v.announced, "reason": v.reason} for v in snap.announce.vips
        ],
        "bgp_peers": _peers_json(snap.announce),
        "director_drain": None  # `ctl drain-director`: "normal", "draining" or "safe"
        if snap.announce is None
        else {"phase": snap.announce.director, "detail": snap.announce.director_detail},
        "vrrp": [
            {
                "name": v.name,
                "state": v.state.value,
                "interface": v.interface,
                "vrid": v.vrid,
                "priority": v.priority,
                "base_priority": v.base_priority,
                "version": v.version,
                "vips": list(v.vips),
                "sync_group": v.sync_group,
                "master": v.master_addr,
                "since_seconds": _ago(v.last_transition, now),
                "reason": v.reason,
            }
            for v in snap.vrrp
        ],
        "services": [
            {
                "service": str(s.key),
                "name": s.name,
                "scheduler": s.scheduler,
                "hash_table": s.hash_table or None,
                "quorum": s.quorum,
                "hysteresis": s.hysteresis,
                "live_weight": s.live_weight,
                "quorum_up": s.quorum_up,
                "sorry_server": str(s.sorry_server) if s.sorry_server else None,
                "sorry_active": s.sorry_active,
                "real_servers": [
                    {
                        "real": str(r.key),
                        "health": r.health.value,
                        "weight": r.weight,
                        "weight_config": r.weight_config,
                        "drain": r.drain.value,
                        "is_sorry": r.is_sorry,
                        "in_table": r.in_table,
                        "active_conns": r.active_conns,
                        "inact_conns": r.inact_conns,
                        "checks": [
                            {
                                "kind": c.kind,
                                "target": c.target,
                                "health": c.health.value,
                                "last_run_age": _ago(c.last_run, now),
                                "last_ok": c.last_ok,
                                "last_reason": c.last_reason,
                                "last_latency": c.last_latency,
                                "period": c.period,
                                "runs": c.runs,
                                "failures": c.failures,
                                "unknown": c.unknown,
                                "shared": c.shared,
                                "stale": c.stale,
                            }
                            for c in r.checks
                        ],
                    }
                    for r in s.real_servers
                ],
            }
            for s in snap.services
        ],
    }


def _peers_json(a: AnnounceView | None) -> dict[str, Any] | None:
    if a is None or not a.daemon:
        return None
    return {
        "daemon": a.daemon,
        "error": a.peers_error or None,
        "peers": [
            {
                "name": p.name,
                "state": p.state,
                "established": p.state == "Established",
                "since": p.since,
                "info": p.info,
                "prefixes_sent": p.prefixes_sent,
            }
            for p in a.peers
        ],
    }


def run(args: argparse.Namespace) -> int:
    async def body(client: SocketClient) -> int:
        snap = await client.snapshot()
        now = time.time()
        if args.json:
            sys.stdout.write(json.dumps(status_json(snap, now), indent=2) + "\n")
        else:
            sys.stdout.write(render_status(snap, now))
        return EXIT_OK

    return with_client(args, body)
