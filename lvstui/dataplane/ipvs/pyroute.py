"""pyroute2's IPVS classes as we use them: the message class with the sync-daemon attributes
declared, and the socket bound to it. Nothing else in lvstui imports pyroute2's IPVS."""

from __future__ import annotations

from pyroute2 import AsyncIPVS
from pyroute2.netlink import nla
from pyroute2.netlink.generic import AsyncGenericNetlinkSocket
from pyroute2.netlink.generic import ipvs as genl_ipvs


class IpvsMsg(genl_ipvs.ipvsmsg):  # type: ignore[misc]
    """pyroute2's ipvsmsg with the sync-daemon attributes declared (0.9.7 has them as hex)."""

    nla_map = (
        ("IPVS_CMD_ATTR_UNSPEC", "none"),
        ("IPVS_CMD_ATTR_SERVICE", "service"),
        ("IPVS_CMD_ATTR_DEST", "dest"),
        ("IPVS_CMD_ATTR_DAEMON", "daemon"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", "uint32"),
    )

    class daemon(nla):  # type: ignore[misc]
        prefix = "IPVS_DAEMON_ATTR_"
        nla_map = (
            ("IPVS_DAEMON_ATTR_UNSPEC", "none"),
            ("IPVS_DAEMON_ATTR_STATE", "uint32"),
            ("IPVS_DAEMON_ATTR_MCAST_IFN", "asciiz"),
            ("IPVS_DAEMON_ATTR_SYNC_ID", "uint32"),
            ("IPVS_DAEMON_ATTR_SYNC_MAXLEN", "uint16"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP", "ip4addr"),
            ("IPVS_DAEMON_ATTR_MCAST_GROUP6", "ip6addr"),
            ("IPVS_DAEMON_ATTR_MCAST_PORT", "uint16"),  # host order (unlike service ports)
            ("IPVS_DAEMON_ATTR_MCAST_TTL", "uint8"),
        )


class IpvsSocket(AsyncIPVS):  # type: ignore[misc]
    """AsyncIPVS bound with our message class (so daemon replies decode)."""

    async def setup_endpoint(self) -> None:
        if getattr(self.local, "transport", None) is not None:
            return
        await AsyncGenericNetlinkSocket.setup_endpoint(self)
        await self.bind(genl_ipvs.GENL_NAME, IpvsMsg)
