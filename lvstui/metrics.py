"""Prometheus exposition of the engine's state (`[lvstui] metrics_listen`, off by default).

    [lvstui]
    metrics_listen = "127.0.0.1:9336"

Everything is read at scrape time from the engine's last published snapshot (refreshed once
a second and after every change), so a scrape never touches the dataplane nor waits for the
event loop. The HTTP server is prometheus-client's own, in its own thread.

Families (labels of a service: `vip`, `vport`, `proto` (`TCP`, `UDP`, `SCTP`) and `fwmark`
(`""`, or the mark with `vip=""` and `vport="0"`); of a real server those and `rip`, `rport`,
so that queries join on them and with node_exporter's `node_ipvs_*`):

- IPVS / userspace counters per service and real server: `lvstui_service_connections_total`,
  `lvstui_service_packets_total{direction}`, `lvstui_service_bytes_total{direction}`,
  `lvstui_service_connections_per_second`, and the `lvstui_real_*` equivalents, plus
  `lvstui_real_active_connections`, `lvstui_real_inactive_connections`;
- `lvstui_real_up` (health: 1 up or unknown-and-serving, 0 down), `lvstui_real_weight`
  (what the dataplane has), `lvstui_real_weight_config`, `lvstui_real_draining`;
- `lvstui_check_up`, `lvstui_check_latency_seconds`, `lvstui_check_last_run_timestamp_seconds`,
  `lvstui_check_runs_total`, `lvstui_check_failures_total`, `lvstui_check_unknown_total`
  (runs that could not be made for a local reason: EMFILE, fork...; labels `check`, `target`),
  `lvstui_check_stale` (the watchdog), `lvstui_check_shared` (servers fed by one probe),
  `lvstui_check_scheduler_lag_seconds`;
- `lvstui_service_quorum_up`, `lvstui_service_live_weight`, `lvstui_service_quorum`,
  `lvstui_service_sorry_active`;
- `lvstui_vrrp_state{vrrp_instance,state}` (1 for the current state), `lvstui_vrrp_priority`,
  `lvstui_vrrp_adverts_{received,sent}_total`, `lvstui_vrrp_priority_zero_{received,sent}_total`,
  `lvstui_vrrp_become_master_total`, `lvstui_vrrp_split_brain_total`;
- `lvstui_vrrp_adverts_dropped_total{reason}` (summed over the instances),
  `lvstui_notify_total{result}` (scripts), `lvstui_mail_total{result}`,
  `lvstui_dataplane_errors_total`;
- the daemon's own: `lvstui_asyncio_tasks`, `lvstui_open_descriptors`,
  `lvstui_descriptor_limit`, `lvstui_resident_memory_bytes`, `lvstui_control_clients`,
  `lvstui_control_refused_total`, `lvstui_audit_failures_total`,
  `lvstui_state_save_failures_total`;
- with `[lvstui] metrics_compat`, other exporters' families too (see `lvstui.metrics_compat`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lvstui.config.schema import MetricsCompat
from lvstui.errors import ConfigError
from lvstui.metrics_compat import (
    REAL_LABELS,
    SERVICE_LABELS,
    VrrpCounter,
    compat_families,
    real_labels,
    service_labels,
    vrrp_adverts_received,
    vrrp_adverts_sent,
    vrrp_become_master,
    vrrp_priority_zero_received,
    vrrp_priority_zero_sent,
    vrrp_split_brains,
)
from lvstui.model import VRRP_DROP_PREFIX, DrainState, GroupView, Health, Snapshot, VrrpRunState

__all__ = ["EngineCollector", "MetricsServer", "parse_listen", "start_metrics"]


def parse_listen(text: str) -> tuple[str, int]:
    """`127.0.0.1:9336`, `[::1]:9336`, `:9336` (all addresses) → (host, port)."""
    t = text.strip()
    try:
        if t.startswith("["):
            host, _, rest = t[1:].partition("]")
            port = int(rest.removeprefix(":"))
        else:
            host, _, port_s = t.rpartition(":")
            port = int(port_s)
        if not 0 <= port <= 65535:
            raise ValueError(port)
    except ValueError:
        raise ConfigError(
            f"metrics_listen {text!r} is not HOST:PORT", key="lvstui.metrics_listen"
        ) from None
    return host or "0.0.0.0", port


class EngineCollector(Collector):
    """Turns snapshots (and notifier / mailer counters) into metric families."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        counters: Callable[[], dict[str, int]] | None = None,
        compat: Sequence[MetricsCompat] = (),
    ) -> None:
        self._snapshot = snapshot
        self._counters = counters or (lambda: {})
        self._compat = tuple(compat)

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        S, R = list(SERVICE_LABELS), [*SERVICE_LABELS, *REAL_LABELS]
        svc_conns = CounterMetricFamily(
            "lvstui_service_connections", "Connections scheduled to the service", labels=S
        )
        svc_pkts = CounterMetricFamily(
            "lvstui_service_packets", "Packets through the service", labels=[*S, "direction"]
        )
        svc_bytes = CounterMetricFamily(
            "lvstui_service_bytes", "Bytes through the service", labels=[*S, "direction"]
        )
        svc_cps = GaugeMetricFamily(
            "lvstui_service_connections_per_second", "New connections per second", labels=S
        )
        q_up = GaugeMetricFamily("lvstui_service_quorum_up", "1 while the quorum is met", labels=S)
        live = GaugeMetricFamily(
            "lvstui_service_live_weight", "Sum of the weights of live servers", labels=S
        )
        quorum = GaugeMetricFamily("lvstui_service_quorum", "Configured quorum", labels=S)
        sorry = GaugeMetricFamily(
            "lvstui_service_sorry_active", "1 while the sorry server serves", labels=S
        )
        r_conns = CounterMetricFamily(
            "lvstui_real_connections", "Connections scheduled to the real server", labels=R
        )
        r_pkts = CounterMetricFamily(
            "lvstui_real_packets", "Packets to/from the real server", labels=[*R, "direction"]
        )
        r_bytes = CounterMetricFamily(
            "lvstui_real_bytes", "Bytes to/from the real server", labels=[*R, "direction"]
        )
        r_active = GaugeMetricFamily("lvstui_real_active_connections", "ActiveConn", labels=R)
        r_inact = GaugeMetricFamily("lvstui_real_inactive_connections", "InActConn", labels=R)
        r_up = GaugeMetricFamily("lvstui_real_up", "1 unless health checks say down", labels=R)
        r_w = GaugeMetricFamily("lvstui_real_weight", "Weight in the dataplane", labels=R)
        r_wc = GaugeMetricFamily("lvstui_real_weight_config", "Configured weight", labels=R)
        r_drain = GaugeMetricFamily(
            "lvstui_real_draining", "1 while drained by an operator", labels=R
        )
        C = [*R, "check", "target"]
        c_up = GaugeMetricFamily("lvstui_check_up", "1 when the last verdict is up", labels=C)
        c_lat = GaugeMetricFamily(
            "lvstui_check_latency_seconds", "Duration of the last check run", labels=C
        )
        c_last = GaugeMetricFamily(
            "lvstui_check_last_run_timestamp_seconds", "Wall time of the last run", labels=C
        )
        c_runs = CounterMetricFamily("lvstui_check_runs", "Check runs", labels=C)
        c_fail = CounterMetricFamily("lvstui_check_failures", "Failed check runs", labels=C)
        c_unk = CounterMetricFamily(
            "lvstui_check_unknown",
            "Check runs that could not be made for a local reason (EMFILE, fork...)",
            labels=C,
        )
        c_stale = GaugeMetricFamily(
            "lvstui_check_stale",
            "1 when the check has not completed a run within 2 x (period + run budget)",
            labels=C,
        )
        c_shared = GaugeMetricFamily(
            "lvstui_check_shared",
            "Real servers (of all services) fed by this check's one probe",
            labels=C,
        )

        for svc in snap.services:
            s = service_labels(svc.key)
            st = svc.stats
            svc_conns.add_metric(s, st.conns)
            svc_pkts.add_metric([*s, "in"], st.inpkts)
            svc_pkts.add_metric([*s, "out"], st.outpkts)
            svc_bytes.add_metric([*s, "in"], st.inbytes)
            svc_bytes.add_metric([*s, "out"], st.outbytes)
            svc_cps.add_metric(s, st.cps)
            q_up.add_metric(s, 1 if svc.quorum_up else 0)
            live.add_metric(s, svc.live_weight)
            quorum.add_metric(s, svc.quorum)
            sorry.add_metric(s, 1 if svc.sorry_active else 0)
            for r in svc.real_servers:
                rl = [*s, *real_labels(r.key)]
                rs = r.stats
                r_conns.add_metric(rl, rs.conns)
                r_pkts.add_metric([*rl, "in"], rs.inpkts)
                r_pkts.add_metric([*rl, "out"], rs.outpkts)
                r_bytes.add_metric([*rl, "in"], rs.inbytes)
                r_bytes.add_metric([*rl, "out"], rs.outbytes)
                r_active.add_metric(rl, r.active_conns)
                r_inact.add_metric(rl, r.inact_conns)
                r_up.add_metric(rl, 0 if r.health is Health.DOWN else 1)
                r_w.add_metric(rl, r.weight)
                r_wc.add_metric(rl, r.weight_config)
                r_drain.add_metric(rl, 0 if r.drain is DrainState.NONE else 1)
                for c in r.checks:
                    cl = [*rl, c.kind, c.target]
                    c_up.add_metric(cl, 0 if c.health is Health.DOWN else 1)
                    if c.last_latency is not None:
                        c_lat.add_metric(cl, c.last_latency)
                    if c.last_run is not None:
                        c_last.add_metric(cl, c.last_run)
                    c_runs.add_metric(cl, c.runs)
                    c_fail.add_metric(cl, c.failures)
                    c_unk.add_metric(cl, c.unknown)
                    c_stale.add_metric(cl, 1 if c.stale else 0)
                    c_shared.add_metric(cl, c.shared)
        yield from (svc_conns, svc_pkts, svc_bytes, svc_cps, q_up, live, quorum, sorry)
        yield from (r_conns, r_pkts, r_bytes, r_active, r_inact, r_up, r_w, r_wc, r_drain)
        yield from (c_up, c_lat, c_last, c_runs, c_fail, c_unk, c_stale, c_shared)
        lag = GaugeMetricFamily(
            "lvstui_check_scheduler_lag_seconds",
            "The health-check scheduler's worst lateness over the last snapshot interval",
        )
        lag.add_metric([], snap.check_lag)
        yield lag

        v_state = GaugeMetricFamily(
            "lvstui_vrrp_state",
            "1 for the instance's current state",
            # not `instance`: Prometheus's own target label would rename it exported_instance
            labels=["vrrp_instance", "state"],
        )
        v_prio = GaugeMetricFamily(
            "lvstui_vrrp_priority", "Effective VRRP priority", labels=["vrrp_instance"]
        )
        v_counts = [
            (CounterMetricFamily(name, text, labels=["vrrp_instance"]), field)
            for name, text, field in _VRRP_COUNTERS
        ]
        for v in snap.vrrp:
            for state in VrrpRunState:
                v_state.add_metric([v.name, state.value], 1 if v.state is state else 0)
            v_prio.add_metric([v.name], v.priority)
            for fam, field in v_counts:
                fam.add_metric([v.name], field(v))
        yield from (v_state, v_prio)
        yield from (fam for fam, _ in v_counts)
        if snap.group is not None:
            yield from _group_metrics(snap.group)
        if snap.announce is not None:
            announced = GaugeMetricFamily(
                "lvstui_bgp_vip_announced",
                "1 while the VIP is announced to the routing daemon (docs/bgp.md)",
                labels=["vip"],
            )
            for a in snap.announce.vips:
                announced.add_metric([a.vip], 1 if a.announced else 0)
            peer_up = GaugeMetricFamily(
                "lvstui_bgp_peer_up",
                "1 while the routing daemon's BGP session is Established",
                labels=["peer"],
            )
            for p in snap.announce.peers:
                peer_up.add_metric([p.name], 1 if p.state == "Established" else 0)
            yield from (announced, peer_up)

        counters = self._counters()
        notify = CounterMetricFamily(
            "lvstui_notify", "Notify / quorum scripts run", labels=["result"]
        )
        notify.add_metric(["ok"], counters.get("notify_ok", 0))
        notify.add_metric(["failed"], counters.get("notify_failed", 0))
        mail = CounterMetricFamily("lvstui_mail", "Alert mails", labels=["result"])
        mail.add_metric(["sent"], counters.get("mail_sent", 0))
        mail.add_metric(["failed"], counters.get("mail_failed", 0))
        drops = CounterMetricFamily(
            "lvstui_vrrp_adverts_dropped",
            "VRRP adverts dropped, by reason (summed over the instances)",
            labels=["reason"],
        )
        for name, n in sorted(counters.items()):
            if name.startswith(VRRP_DROP_PREFIX):
                drops.add_metric([name.removeprefix(VRRP_DROP_PREFIX)], n)
        yield drops
        dp_err = CounterMetricFamily("lvstui_dataplane_errors", "Dataplane operations refused")
        dp_err.add_metric([], counters.get("dataplane_errors", 0))
        yield from (notify, mail, dp_err)
        yield from _process_families(counters)
        yield from compat_families(snap, self._compat)


# (metric name, help, the VrrpView counter) of the per-instance VRRP counters
_VRRP_COUNTERS: tuple[tuple[str, str, VrrpCounter], ...] = (
    ("lvstui_vrrp_adverts_received", "VRRP adverts received (well-formed)", vrrp_adverts_received),
    ("lvstui_vrrp_adverts_sent", "VRRP adverts sent", vrrp_adverts_sent),
    (
        "lvstui_vrrp_priority_zero_received",
        "Priority-0 adverts received (a master leaving)",
        vrrp_priority_zero_received,
    ),
    ("lvstui_vrrp_priority_zero_sent", "Priority-0 adverts sent", vrrp_priority_zero_sent),
    ("lvstui_vrrp_become_master", "Transitions to MASTER", vrrp_become_master),
    ("lvstui_vrrp_split_brain", "Split brains this instance detected", vrrp_split_brains),
)

# (counter key, metric name, help, gauge?) of the daemon's own resources and guards
_PROCESS: tuple[tuple[str, str, str, bool], ...] = (
    ("tasks", "lvstui_asyncio_tasks", "asyncio tasks in the daemon", True),
    ("descriptors", "lvstui_open_descriptors", "Open file descriptors", True),
    ("descriptor_limit", "lvstui_descriptor_limit", "RLIMIT_NOFILE (soft)", True),
    ("rss", "lvstui_resident_memory_bytes", "Resident memory", True),
    ("control_clients", "lvstui_control_clients", "Control socket clients", True),
    ("control_refused", "lvstui_control_refused", "Control clients refused (caps)", False),
    ("audit_failures", "lvstui_audit_failures", "Audit log lines that failed", False),
    (
        "state_save_failures",
        "lvstui_state_save_failures",
        "Operator changes not applied: overrides.toml could not be saved",
        False,
    ),
)


def _process_families(counters: dict[str, int]) -> Iterator[Metric]:
    """Only what the daemon reports (an embedded engine has no process sampler)."""
    for key, name, text, gauge in _PROCESS:
        if key not in counters:
            continue
        fam: Metric = GaugeMetricFamily(name, text) if gauge else CounterMetricFamily(name, text)
        fam.add_metric([], counters[key])  # type: ignore[attr-defined]
        yield fam


def _group_metrics(g: GroupView) -> Iterator[Metric]:
    """The director group: peers reachable, configs and hash tables alike, pending changes,
    split brain."""
    labels = ["peer", "address"]
    up = GaugeMetricFamily("lvstui_group_peer_up", "1 while the peer is reachable", labels=labels)
    same = GaugeMetricFamily(
        "lvstui_group_peer_config_same", "1 when the peer runs the same config", labels=labels
    )
    pending = GaugeMetricFamily(
        "lvstui_group_peer_pending", "Changes not yet delivered to the peer", labels=labels
    )
    # ECMP consistency (docs/bgp.md): behind ECMP a flow may reach any director, so an mh/sh
    # table that differs on a peer sends some clients to another real server
    hash_differ = GaugeMetricFamily(
        "lvstui_group_peer_hash_tables_differ",
        "mh/sh services whose hashing table differs on the peer (0 is consistent)",
        labels=labels,
    )
    for p in g.peers:
        up.add_metric([p.name, p.address], 1 if p.reachable else 0)
        if p.config_same is not None:  # its status heard: hash tables compared too
            same.add_metric([p.name, p.address], 1 if p.config_same else 0)
            hash_differ.add_metric([p.name, p.address], len(p.hash_differ))
        pending.add_metric([p.name, p.address], p.pending)
    split = GaugeMetricFamily(
        "lvstui_group_split_brain",
        "VRIDs for which two directors of the group are MASTER (0 is healthy)",
    )
    split.add_metric([], len(g.split_brain))
    yield from (up, same, pending, hash_differ, split)


class MetricsServer:
    """prometheus-client's HTTP server on its own registry; `close()` stops it."""

    def __init__(
        self, server: WSGIServer, thread: threading.Thread, registry: CollectorRegistry
    ) -> None:
        self._server = server
        self._thread = thread
        self.registry = registry

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics(listen: str, collector: EngineCollector) -> MetricsServer:
    """Serve `collector` on `listen` (HOST:PORT; port 0 picks a free one)."""
    host, port = parse_listen(listen)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as e:
        raise ConfigError(
            f"cannot listen on {listen}: {e.strerror or e}", key="lvstui.metrics_listen"
        ) from e
    return MetricsServer(server, thread, registry)
