"""Labels shared by lvstui's families, and other exporters' families for existing dashboards.

`[lvstui] metrics_compat = ["node_exporter", "keepalived"]` adds, from the same snapshot as
lvstui's own families (so both agree within a scrape):

- "node_exporter": its ipvs collector's families, with the same names, labels and meaning:
  `node_ipvs_connections_total`, `node_ipvs_incoming_packets_total`,
  `node_ipvs_outgoing_packets_total`, `node_ipvs_incoming_bytes_total`,
  `node_ipvs_outgoing_bytes_total` (sums over all services, as /proc/net/ip_vs_stats), and
  `node_ipvs_backend_connections_active`, `node_ipvs_backend_connections_inactive`,
  `node_ipvs_backend_weight` with labels `local_address`, `local_port`, `remote_address`,
  `remote_port`, `proto`, `local_mark` (a firewall-mark service: `local_address=""`,
  `local_port="0"`, `proto="FWM"`, `local_mark` the mark as /proc/net/ip_vs prints it, eight
  hex digits). Backends with the same labels are summed, as node_exporter does. Run
  node_exporter with `--no-collector.ipvs` on the director, or the series are doubled.
- "keepalived": the families of the common keepalived exporter (cafebazaar's
  keepalived-exporter, read from its collector.go): `keepalived_up` (1),
  `keepalived_vrrp_state{iname,intf,vrid,ip_address}` (one series per virtual address:
  0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT; `intf` is the address's own `dev`, else the
  instance's interface, and `ip_address` is the address as keepalived's data dump prints
  it: bare for a /32 or /128, with its prefix otherwise), and per instance
  `{iname,intf,vrid,state}` (`state` INIT/BACKUP/MASTER/FAULT, "" for a stopped instance,
  as the exporter does for a number it does not know) the counters in KEEPALIVED_COUNTERS
  and KEEPALIVED_DROPS: lvstui's own drop reasons summed into keepalived's error counters.
  `keepalived_script_status{name}`: each vrrp_script an instance tracks, 1 GOOD, 0 BAD (as
  the exporter numbers keepalived's statuses). Not served: `keepalived_script_state` (no
  equivalent), `keepalived_gratuitous_arp_delay_total` (a configuration value, not a
  count) and the exporter's own `keepalived_exporter_check_script_status`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from lvstui.config.schema import MetricsCompat
from lvstui.model import RealKey, ServiceKey, Snapshot, VrrpRunState, VrrpView

__all__ = [
    "KEEPALIVED_COUNTERS",
    "KEEPALIVED_DROPS",
    "REAL_LABELS",
    "SERVICE_LABELS",
    "VrrpCounter",
    "compat_families",
    "real_labels",
    "service_labels",
    "vrrp_adverts_received",
    "vrrp_adverts_sent",
    "vrrp_become_master",
    "vrrp_priority_zero_received",
    "vrrp_priority_zero_sent",
    "vrrp_split_brains",
]

SERVICE_LABELS = ("vip", "vport", "proto", "fwmark")
REAL_LABELS = ("rip", "rport")
BACKEND_LABELS = (
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
)

# keepalived's numbering of a VRRP state, as its exporters publish it
_KEEPALIVED_STATE = {
    VrrpRunState.INIT: 0,
    VrrpRunState.BACKUP: 1,
    VrrpRunState.MASTER: 2,
    VrrpRunState.FAULT: 3,
}


VrrpCounter = Callable[[VrrpView], int]


def vrrp_adverts_received(v: VrrpView) -> int:
    return v.adverts_received


def vrrp_adverts_sent(v: VrrpView) -> int:
    return v.adverts_sent


def vrrp_priority_zero_received(v: VrrpView) -> int:
    return v.priority_zero_received


def vrrp_priority_zero_sent(v: VrrpView) -> int:
    return v.priority_zero_sent


def vrrp_become_master(v: VrrpView) -> int:
    return v.become_master


def vrrp_split_brains(v: VrrpView) -> int:
    return v.split_brains


def vrrp_release_master(v: VrrpView) -> int:
    return v.release_master


def keepalived_address(vip: str) -> str:
    """A virtual address as keepalived's data dump (and so its exporter) prints it: without
    the prefix length when it is a host's (/32, /128), with it otherwise."""
    addr, _, plen = vip.partition("/")
    if not plen or plen == ("128" if ":" in addr else "32"):
        return addr
    return vip


# keepalived exporter's per-instance counters: (name without keepalived_, help, counter)
KEEPALIVED_COUNTERS: tuple[tuple[str, str, VrrpCounter], ...] = (
    ("advertisements_received", "Advertisements received", vrrp_adverts_received),
    ("advertisements_sent", "Advertisements sent", vrrp_adverts_sent),
    ("become_master", "Became master", vrrp_become_master),
    ("release_master", "Released master", vrrp_release_master),
    ("priority_zero_received", "Priority zero received", vrrp_priority_zero_received),
    ("priority_zero_sent", "Priority zero sent", vrrp_priority_zero_sent),
)

# keepalived exporter's error counters (name without keepalived_, help) and the drop
# reasons of lvstui (lvstui.vrrp.packet.REASONS) each one counts, as keepalived's
# vrrp_check_packet sorts the same faults
KEEPALIVED_DROPS: tuple[tuple[str, str, frozenset[str]], ...] = (
    (
        "packet_length_errors",
        "Packet length errors",
        frozenset({"too_short", "bad_length", "bad_ip_header", "addr_count"}),
    ),
    (
        "advertisements_interval_errors",
        "Advertisement interval errors",
        frozenset({"interval_mismatch"}),
    ),
    ("ip_ttl_errors", "TTL errors", frozenset({"ttl"})),
    ("invalid_type_received", "Invalid type errors", frozenset({"bad_type"})),
    ("address_list_errors", "Address list errors", frozenset({"addr_mismatch"})),
    ("authentication_invalid", "Authentication invalid", frozenset({"bad_auth_type"})),
    ("authentication_mismatch", "Authentication mismatch", frozenset({"auth_type_mismatch"})),
    ("authentication_failure", "Authentication failure", frozenset({"bad_auth"})),
)


def service_labels(key: ServiceKey) -> list[str]:
    if key.fwmark:
        return ["", "0", key.protocol.value, str(key.fwmark)]
    return [key.addr, str(key.port), key.protocol.value, ""]


def real_labels(key: RealKey) -> list[str]:
    return [key.addr, str(key.port)]


def compat_families(snap: Snapshot, compat: Sequence[MetricsCompat]) -> Iterator[Metric]:
    if MetricsCompat.NODE_EXPORTER in compat:
        yield from _node_exporter(snap)
    if MetricsCompat.KEEPALIVED in compat:
        yield from _keepalived(snap)


def _node_exporter(snap: Snapshot) -> Iterator[Metric]:
    totals = {
        "connections_total": ("The total number of connections made.", 0),
        "incoming_packets_total": ("The total number of incoming packets.", 0),
        "outgoing_packets_total": ("The total number of outgoing packets.", 0),
        "incoming_bytes_total": ("The total amount of incoming data.", 0),
        "outgoing_bytes_total": ("The total amount of outgoing data.", 0),
    }
    sums: dict[tuple[str, ...], list[int]] = {}
    for svc in snap.services:
        st = svc.stats
        for name, value in (
            ("connections_total", st.conns),
            ("incoming_packets_total", st.inpkts),
            ("outgoing_packets_total", st.outpkts),
            ("incoming_bytes_total", st.inbytes),
            ("outgoing_bytes_total", st.outbytes),
        ):
            text, total = totals[name]
            totals[name] = (text, total + value)
        k = svc.key
        # /proc/net/ip_vs's view: a fwmark service has no address, port 0, proto FWM
        local_addr, local_port = ("", "0") if k.fwmark else (k.addr, str(k.port))
        proto, mark = ("FWM", f"{k.fwmark:08X}") if k.fwmark else (k.protocol.value, "")
        for r in svc.real_servers:
            labels = (local_addr, local_port, r.key.addr, str(r.key.port), proto, mark)
            acc = sums.setdefault(labels, [0, 0, 0])
            acc[0] += r.active_conns
            acc[1] += r.inact_conns
            acc[2] += r.weight
    for name, (text, total) in totals.items():
        fam = CounterMetricFamily(f"node_ipvs_{name.removesuffix('_total')}", text)
        fam.add_metric([], total)
        yield fam
    names = list(BACKEND_LABELS)
    active = GaugeMetricFamily(
        "node_ipvs_backend_connections_active",
        "The current active connections by local and remote address.",
        labels=names,
    )
    inact = GaugeMetricFamily(
        "node_ipvs_backend_connections_inactive",
        "The current inactive connections by local and remote address.",
        labels=names,
    )
    weight = GaugeMetricFamily(
        "node_ipvs_backend_weight",
        "The current backend weight by local and remote address.",
        labels=names,
    )
    for lv, (a, i, w) in sums.items():
        active.add_metric(list(lv), a)
        inact.add_metric(list(lv), i)
        weight.add_metric(list(lv), w)
    yield from (active, inact, weight)


def _keepalived(snap: Snapshot) -> Iterator[Metric]:
    up = GaugeMetricFamily("keepalived_up", "Status")
    up.add_metric([], 1)
    state = GaugeMetricFamily(
        "keepalived_vrrp_state",
        "State of vrrp",
        labels=["iname", "intf", "vrid", "ip_address"],
    )
    labels = ["iname", "intf", "vrid", "state"]
    counts = [
        (CounterMetricFamily(f"keepalived_{name}", text, labels=labels), field)
        for name, text, field in KEEPALIVED_COUNTERS
    ]
    errors = [
        (CounterMetricFamily(f"keepalived_{name}", text, labels=labels), reasons)
        for name, text, reasons in KEEPALIVED_DROPS
    ]
    for v in snap.vrrp:
        value = _KEEPALIVED_STATE.get(v.state)
        inst = [v.name, v.interface, str(v.vrid), v.state.value if value is not None else ""]
        for fam, field in counts:
            fam.add_metric(inst, field(v))
        for fam, reasons in errors:
            fam.add_metric(inst, sum(n for reason, n in v.drops if reason in reasons))
        if value is None:  # a state keepalived has no number for: leave it out
            continue
        devs = v.vip_devs if len(v.vip_devs) == len(v.vips) else ("",) * len(v.vips)
        for addr, dev in zip(v.vips, devs, strict=True):
            state.add_metric(
                [v.name, dev or v.interface, str(v.vrid), keepalived_address(addr)], value
            )
    scripts: dict[str, bool] = {}
    for v in snap.vrrp:  # keepalived runs a script once for all; here each instance's view
        for name, ok in v.scripts:
            scripts[name] = scripts.get(name, True) and ok
    status = GaugeMetricFamily("keepalived_script_status", "Tracker Script Status", labels=["name"])
    for name, ok in sorted(scripts.items()):
        status.add_metric([name], 1 if ok else 0)
    yield from (up, state, status)
    yield from (fam for fam, _ in counts)
    yield from (fam for fam, _ in errors)
