"""The kernel IPVS dataplane, through pyroute2's generic-netlink IPVS classes (0.9.7).

This package is the only place that imports pyroute2's IPVS. It speaks to the kernel through
`pyroute2.AsyncIPVS` (the socket, its generic-netlink family binding, its receive queue)
and describes every message with pyroute2's `ipvsmsg` classes (`encode.op_message`), not with
the convenience classes `IPVSService`/`IPVSDest`, because those have traps in 0.9.7
(testing.md §4):

- `"update"` is mapped to a *delete*: we send `IPVS_CMD_SET_*` for edits;
- `IPVSDest` defaults to `fwd_method=3` (DR), and a set without the forwarding method turns
  a Masq real server into Route: every dest message carries the method explicitly;
- `from_message` drops the statistics and reports stale defaults: we read the raw
  attributes (flags, timeout, netmask, forwarding method, thresholds, STATS64);
- the IPv6 persistence netmask is a prefix length in a 32-bit attribute that pyroute2
  declares as an IPv4 address: we encode/decode it as such (`encode.v6_mask_*`);
- there is no helper for the connection-sync daemon: `pyroute.IpvsMsg` declares the nested
  `IPVS_CMD_ATTR_DAEMON` attributes and we send NEW_DAEMON / DEL_DAEMON / GET_DAEMON.

Start adopts what the kernel holds (never flushes) and close leaves the table: a restart of
the director drops no connection.

The hot paths (service and real-server requests, table dumps) send the very bytes that
`ipvsmsg` would encode, but packed by `lvstui.dataplane.ipvs_wire` (pyroute2's encoder
costs ~600 µs a message; tests pin both to the same bytes). Writes are batched: up to
`batch` requests in one datagram and one acknowledgement per batch (the kernel reports any
failed request by itself), so 11,000 operations cost a few dozen system calls.

Modules: `uapi` (the kernel's numbers), `pyroute` (pyroute2's classes as we use them),
`encode`/`decode` (the reference encoding), `fast` (the hot path's), `errors` (kernel codes
explained), `channel` (the socket and the exchange), `sync_daemon`, and `dataplane`
(`IpvsDataplane`).
"""

from __future__ import annotations

from lvstui.dataplane.ipvs.dataplane import IpvsDataplane
from lvstui.dataplane.ipvs.sync_daemon import SyncDaemon
from lvstui.dataplane.ipvs.uapi import IPVS_SCHEDULERS

__all__ = [
    "IPVS_SCHEDULERS",
    "IpvsDataplane",
    "SyncDaemon",
]
