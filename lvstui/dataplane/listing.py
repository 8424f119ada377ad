"""`ipvsadm -L -n` output, byte for byte, for an observed table (pure).

Written from reading ipvsadm's `print_title`, `print_service_entry`, `print_largenum`,
`print_sched_flags` and libipvs's sort comparators (ipvsadm 1.29–1.31, Debian 12):

- a version line, a two-line title that depends on the mode (plain, `--stats`, `--rate`,
  `--thresholds`, `--persistent-conn`; that order of precedence), then one line per service
  and one per real server, with ipvsadm's column widths (including its trailing spaces);
- service names `TCP  1.2.3.4:80` (protocol padded to 4), `[v6]:port`, `FWM  7`,
  `FWM  7 IPv6`; scheduler flags in parentheses, named per scheduler (`sh-*`, `mh-*`,
  else `flag-N`); ` persistent T`, ` mask M` (dotted for IPv4, a prefix length for IPv6,
  only when not a host mask); ` ops`;
- numbers: `%9llu` below 100 million, then K/M/G/T with 8 digits (`print_largenum`);
  `--exact` prints every digit, 9 wide or one more than the digits;
- order: services and real servers sorted like ipvsadm (unless `nosort`), which compares
  with C `int` subtraction of unsigned values (so 10.0.0.1 sorts *after* 192.168.0.1) and
  sorts with glibc's merge sort; both are reproduced so the order matches exactly.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from lvstui.dataplane.base import ObservedDest, ObservedService
from lvstui.dataplane.reconcile import mask_prefix
from lvstui.model import LbKind, Protocol, Stats
from lvstui.netutil import bracket_host, ip_family, is_ipv6

__all__ = [
    "IPVS_SIZE",
    "IPVS_VERSION",
    "ListOptions",
    "largenum",
    "render",
    "render_json",
    "sort_dests",
    "sort_services",
    "to_json",
]

IPVS_VERSION = "1.2.1"  # what the kernel reports (IP_VS_VERSION_CODE 0x010201)
IPVS_SIZE = 4096  # default connection table size (CONFIG_IP_VS_TAB_BITS = 12)

_FWD_NAME = {LbKind.NAT: "Masq", LbKind.DR: "Route", LbKind.TUN: "Tunnel"}
_PROTO_NUM = {Protocol.TCP: 6, Protocol.UDP: 17, Protocol.SCTP: 132}
_AF = {4: 2, 6: 10}  # AF_INET, AF_INET6


@dataclass(frozen=True, slots=True)
class ListOptions:
    stats: bool = False
    rate: bool = False
    thresholds: bool = False
    persistent_conn: bool = False
    exact: bool = False
    nosort: bool = False


# --- C arithmetic and glibc's qsort ---------------------------------------------------------


def _i32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


T = TypeVar("T")


def _msort(items: list[T], cmp: Callable[[T, T], int]) -> list[T]:
    """glibc 2.36 qsort (msort_with_tmp): top-down merge sort, left wins when cmp <= 0."""
    n = len(items)
    if n <= 1:
        return list(items)
    n1 = n // 2
    b1 = _msort(items[:n1], cmp)
    b2 = _msort(items[n1:], cmp)
    out: list[T] = []
    i = j = 0
    while i < len(b1) and j < len(b2):
        if cmp(b1[i], b2[j]) <= 0:
            out.append(b1[i])
            i += 1
        else:
            out.append(b2[j])
            j += 1
    out.extend(b1[i:])
    out.extend(b2[j:])
    return out


def _words(addr: str, family: int) -> list[int]:
    try:
        packed = ipaddress.ip_address(addr).packed if addr else b""
    except ValueError:  # never crash a listing over one bad entry: it sorts as 0.0.0.0
        packed = b""
    if not packed:
        return [0] if family == 4 else [0, 0, 0, 0]
    return [int.from_bytes(packed[i : i + 4], "big") for i in range(0, len(packed), 4)]


def _cmp_addr(a: str, b: str, family: int) -> int:
    wa, wb = _words(a, family), _words(b, family)
    if len(wa) != len(wb):  # mixed families (a v6 real server of a v4 service): the kernel's
        wa, wb = wa + [0] * (4 - len(wa)), wb + [0] * (4 - len(wb))  # nf_inet_addr, zero-padded
    r = 0
    for x, y in zip(wa, wb, strict=True):
        r = _i32(x - y)
        if r:
            break
    return r


def _cmp_services(s1: ObservedService, s2: ObservedService) -> int:
    k1, k2 = s1.key, s2.key
    r = _i32(k1.fwmark - k2.fwmark)
    if r:
        return r
    r = _AF[k1.family] - _AF[k2.family]
    if r:
        return r
    r = _PROTO_NUM[k1.protocol] - _PROTO_NUM[k2.protocol]
    if r:
        return r
    r = _cmp_addr(k1.addr, k2.addr, k1.family)
    if r:
        return r
    return k1.port - k2.port


def _cmp_dests(d1: ObservedDest, d2: ObservedDest) -> int:
    r = _cmp_addr(d1.key.addr, d2.key.addr, ip_family(d1.key.addr))
    if r:
        return r
    return d1.key.port - d2.key.port


def sort_services(services: Sequence[ObservedService]) -> list[ObservedService]:
    return _msort(list(services), _cmp_services)


def sort_dests(dests: Sequence[ObservedDest]) -> list[ObservedDest]:
    return _msort(list(dests), _cmp_dests)


# --- formatting -----------------------------------------------------------------------------


def largenum(i: int, exact: bool = False) -> str:
    """ipvsadm's print_largenum."""
    if exact:
        digits = str(i)
        return digits.rjust(9 if len(digits) <= 8 else len(digits) + 1)
    if i < 100_000_000:
        return f"{i:9d}"
    if i < 1_000_000_000:
        return f"{i // 1000:8d}K"
    if i < 100_000_000_000:
        return f"{i // 1_000_000:8d}M"
    if i < 100_000_000_000_000:
        return f"{i // 1_000_000_000:8d}G"
    return f"{i // 1_000_000_000_000:8d}T"


def _title(o: ListOptions) -> str:
    head = f"{'Prot LocalAddress:Port':<33}"
    if o.stats:
        cols: tuple[str, ...] = ("Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
        return head + "".join(f" {c:>8}" for c in cols) + "\n  -> RemoteAddress:Port\n"
    if o.rate:
        cols = ("CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
        return head + "".join(f" {c:>8}" for c in cols) + "\n  -> RemoteAddress:Port\n"
    if o.thresholds:
        cols = ("Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
        return head + "".join(f" {c:<10}" for c in cols) + "\n  -> RemoteAddress:Port\n"
    if o.persistent_conn:
        return (
            f"{head} {'Weight':<9} {'PersistConn':<11} {'ActiveConn':<10} {'InActConn':<10}\n"
            "  -> RemoteAddress:Port\n"
        )
    return (
        "Prot LocalAddress:Port Scheduler Flags\n"
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    )


def _hostport(addr: str, port: int) -> str:
    return f"{bracket_host(addr)}:{port}"


def _svc_name(s: ObservedService) -> str:
    k = s.key
    if k.fwmark:
        return f"FWM  {k.fwmark} IPv6" if k.family == 6 else f"FWM  {k.fwmark}"
    name = f"{k.protocol.value:<4} {_hostport(k.addr, k.port)}"
    return name if k.family == 6 else name[:33]


_FLAG_BITS = {
    "sh-fallback": 1,
    "mh-fallback": 1,
    "flag-1": 1,
    "sh-port": 2,
    "mh-port": 2,
    "flag-2": 2,
    "flag-3": 3,
}


def _sched_flags(s: ObservedService) -> str:
    bits = {_FLAG_BITS[f] for f in s.flags if f in _FLAG_BITS}
    sched = s.scheduler
    names: list[str] = []
    if sched in ("sh", "mh"):
        if 1 in bits:
            names.append(f"{sched}-fallback")
        if 2 in bits:
            names.append(f"{sched}-port")
    else:
        names.extend(f"flag-{b}" for b in (1, 2) if b in bits)
    if 3 in bits:
        names.append("flag-3")
    return ",".join(names)


def _mask(s: ObservedService) -> str:
    prefix = mask_prefix(s.netmask, s.key.family)
    if s.key.family == 6:
        return "" if prefix == 128 else f" mask {prefix}"
    if prefix == 32:
        return ""
    return f" mask {ipaddress.IPv4Network(f'0.0.0.0/{prefix}').netmask}"


def _service_line(s: ObservedService, o: ListOptions) -> str:
    name = _svc_name(s)
    if o.stats:
        st = s.stats
        nums = (st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes)
        return f"{name:<33}" + "".join(largenum(n, o.exact) for n in nums)
    if o.rate:
        st = s.stats
        nums = (st.cps, st.inpps, st.outpps, st.inbps, st.outbps)
        return f"{name:<33}" + "".join(largenum(n, o.exact) for n in nums)
    line = f"{name} {s.scheduler}"
    flags = _sched_flags(s)
    if flags:
        line += f" ({flags})"
    if s.persistence_timeout:
        line += f" persistent {s.persistence_timeout}" + _mask(s)
    if "ops" in s.flags:
        line += " ops"
    return line


def _dest_line(d: ObservedDest, o: ListOptions) -> str:
    name = _hostport(d.key.addr, d.key.port)
    if not is_ipv6(d.key.addr):
        name = name[:28]
    st = d.stats
    if o.stats:
        nums = (st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes)
        return f"  -> {name:<28}" + "".join(largenum(n, o.exact) for n in nums)
    if o.rate:
        return (
            f"  -> {name:<28} {st.cps:8d} {st.inpps:8d} {st.outpps:8d}"
            + largenum(st.inbps, o.exact)
            + largenum(st.outbps, o.exact)
        )
    if o.thresholds:
        return (
            f"  -> {name:<28} {d.u_threshold:<10d} {d.l_threshold:<10d} "
            f"{d.active_conns:<10d} {d.inact_conns:<10d}"
        )
    if o.persistent_conn:
        return (
            f"  -> {name:<28} {d.weight:<9d} {d.persist_conns:<11d} "
            f"{d.active_conns:<10d} {d.inact_conns:<10d}"
        )
    return (
        f"  -> {name:<28} {_FWD_NAME[d.fwd]:<7} {d.weight:<6d} "
        f"{d.active_conns:<10d} {d.inact_conns:<10d}"
    )


def render(
    services: Sequence[ObservedService],
    options: ListOptions | None = None,
    *,
    version: str = IPVS_VERSION,
    size: int = IPVS_SIZE,
) -> str:
    """Exactly what `ipvsadm -L -n [--stats|--rate|--thresholds|--persistent-conn]
    [--exact] [--nosort]` prints for this table."""
    o = options or ListOptions()
    out = [f"IP Virtual Server version {version} (size={size})\n", _title(o)]
    ordered = list(services) if o.nosort else sort_services(services)
    for s in ordered:
        out.append(_service_line(s, o) + "\n")
        dests = list(s.dests) if o.nosort else sort_dests(s.dests)
        out.extend(_dest_line(d, o) + "\n" for d in dests)
    return "".join(out)


# --- JSON -----------------------------------------------------------------------------------


def _stats_json(st: Stats) -> dict[str, int]:
    return {
        "conns": st.conns,
        "inpkts": st.inpkts,
        "outpkts": st.outpkts,
        "inbytes": st.inbytes,
        "outbytes": st.outbytes,
        "cps": st.cps,
        "inpps": st.inpps,
        "outpps": st.outpps,
        "inbps": st.inbps,
        "outbps": st.outbps,
    }


def to_json(services: Sequence[ObservedService], *, nosort: bool = False) -> dict[str, Any]:
    """The same table as plain data (same order as the text form)."""
    ordered = list(services) if nosort else sort_services(services)
    out: list[dict[str, Any]] = []
    for s in ordered:
        k = s.key
        dests = list(s.dests) if nosort else sort_dests(s.dests)
        out.append(
            {
                "service": str(k),
                "protocol": k.protocol.value,
                "address": k.addr or None,
                "port": k.port if not k.fwmark else None,
                "fwmark": k.fwmark or None,
                "family": k.family,
                "scheduler": s.scheduler,
                "flags": sorted(s.flags),
                "persistent": s.persistence_timeout or None,
                "netmask": s.netmask,
                "stats": _stats_json(s.stats),
                "real_servers": [
                    {
                        "address": d.key.addr,
                        "port": d.key.port,
                        "forward": _FWD_NAME[d.fwd],
                        "weight": d.weight,
                        "active_conns": d.active_conns,
                        "inact_conns": d.inact_conns,
                        "persist_conns": d.persist_conns,
                        "u_threshold": d.u_threshold,
                        "l_threshold": d.l_threshold,
                        "stats": _stats_json(d.stats),
                    }
                    for d in dests
                ],
            }
        )
    return {"version": IPVS_VERSION, "size": IPVS_SIZE, "services": out}


def render_json(services: Sequence[ObservedService], *, nosort: bool = False) -> str:
    return json.dumps(to_json(services, nosort=nosort), indent=2) + "\n"
