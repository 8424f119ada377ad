"""nftables through its JSON interface (libnftables' `nft -j`): one shared edge for every
feature that needs packet-filter state (source NAT for IPVS services; VRRP's accept/strict
drops). Each feature owns one table named for lvstui and replaces it whole, atomically."""
