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
- "keepalived": the keepalived exporters' `keepalived_up` (1) and
  `keepalived_vrrp_state{iname,intf,vrid,ip_address}` (one series per virtual address:
  0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT), and per instance `{iname,intf,vrid}`:
  `keepalived_advertisements_received_total`, `keepalived_advertisements_sent_total`,
  `keepalived_become_master_total`, `keepalived_priority_zero_received_total`,
  `keepalived_priority_zero_sent_total`. keepalived's per-reason error counters are not
  served under their names (lvstui counts drops by its own reasons, summed over instances).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from lvstui.config.schema import MetricsCompat
from lvstui.model import RealKey, ServiceKey, Snapshot, VrrpRunState, VrrpView

__all__ = [
    "KEEPALIVED_COUNTERS",
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


# keepalived exporter's per-instance counters: (name without keepalived_, help, counter)
KEEPALIVED_COUNTERS: tuple[tuple[str, str, VrrpCounter], ...] = (
    ("advertisements_received", "Advertisements received", vrrp_adverts_received),
    ("advertisements_sent", "Advertisements sent", vrrp_adverts_sent),
    ("become_master", "Became master", vrrp_become_master),
    ("priority_zero_received", "Priority zero received", vrrp_priority_zero_received),
    ("priority_zero_sent", "Priority zero sent", vrrp_priority_zero_sent),
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
    labels = ["iname", "intf", "vrid"]
    counts = [
        (CounterMetricFamily(f"keepalived_{name}", text, labels=labels), field)
        for name, text, field in KEEPALIVED_COUNTERS
    ]
    for v in snap.vrrp:
        for fam, field in counts:
            fam.add_metric([v.name, v.interface, str(v.vrid)], field(v))
        value = _KEEPALIVED_STATE.get(v.state)
        if value is None:  # a state keepalived has no number for: leave it out
            continue
        for addr in v.vips:
            state.add_metric([v.name, v.interface, str(v.vrid), addr], value)
    yield from (up, state)
    yield from (fam for fam, _ in counts)
