"""VRRP v2/v3: packets, the RFC 5798 state machine, transports, and the node driver.

- `packet`     encode/decode adverts (pure, total: `PacketError.reason` on any bad input)
- `fsm`        the pure state machine: `step(params, state, event, now) -> (state, actions)`
- `transport`  `Transport` seam: `RawSocketTransport` (multicast/unicast, v4/v6), `MemoryHub`
- `addresses`  `AddressManager` seam: `PyrouteAddresses`, `MemoryAddresses`
- `garp`       `Announcer` seam: gratuitous ARP / unsolicited NA (`RawAnnouncer`, memory)
- `track`      link state (`PyrouteLinks`, event-driven) and vrrp_script trackers
- `params`     `fsm_params`: the state machine's view of a vrrp_instance
- `vips`       `VipHolder`: an instance's VIPs on the interface and their announcements
- `inbox`      what a node's main task handles, and its wait for the next item or timer
- `node`       `VrrpNode`: one instance's machine driven against its edges
- `group`      `VrrpGroup` (a Config's instances and sync groups): the engine's API
- `sync`       vrrp_sync_group semantics
- `run_instance`  `python -m lvstui.vrrp.run_instance`: one instance from flags (lab, bench)
"""
