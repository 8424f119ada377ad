"""VRRP v2/v3: packets, the RFC 5798 state machine, transports, and the node driver."""
