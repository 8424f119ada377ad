"""Which running kernel sync daemon the IPVS dataplane keeps (pure: the read-back's model)."""

from __future__ import annotations

from lvstui.dataplane.base import SyncOptions, SyncRole
from lvstui.dataplane.ipvs.sync_daemon import SyncDaemon, daemon_attrs

UNSET = SyncOptions()


def running(**kw: object) -> SyncDaemon:
    base: dict[str, object] = {"maxlen": 1472, "group": "224.0.0.81", "port": 8848, "ttl": 1}
    base.update(kw)
    return SyncDaemon(SyncRole.MASTER, "eth0", 5, **base)  # type: ignore[arg-type]


def test_an_unset_option_is_the_kernels_default_so_a_dropped_option_restarts() -> None:
    assert running().matches(SyncRole.MASTER, "eth0", 5, UNSET)
    # the config dropped `port = 8900`: the daemon still on 8900 is not what was asked
    assert not running(port=8900).matches(SyncRole.MASTER, "eth0", 5, UNSET)
    assert not running(group="239.1.2.3").matches(SyncRole.MASTER, "eth0", 5, UNSET)
    assert not running(ttl=3).matches(SyncRole.MASTER, "eth0", 5, UNSET)
    # maxlen follows the MTU when unset: any value passes
    assert running(maxlen=1200).matches(SyncRole.MASTER, "eth0", 5, UNSET)
    assert not running(maxlen=1200).matches(SyncRole.MASTER, "eth0", 5, SyncOptions(maxlen=1000))


def test_set_options_must_match_and_role_interface_syncid_too() -> None:
    asked = SyncOptions(1200, "239.1.2.3", 8900, 3)
    d = running(maxlen=1200, group="239.1.2.3", port=8900, ttl=3)
    assert d.matches(SyncRole.MASTER, "eth0", 5, asked)
    assert not d.matches(SyncRole.BACKUP, "eth0", 5, asked)
    assert not d.matches(SyncRole.MASTER, "eth1", 5, asked)
    assert not d.matches(SyncRole.MASTER, "eth0", 6, asked)


def test_a_kernel_that_reports_no_options_cannot_be_compared() -> None:
    old = SyncDaemon(SyncRole.BACKUP, "eth0", 5)  # Linux < 4.3: no MCAST_* attributes
    assert old.matches(SyncRole.BACKUP, "eth0", 5, SyncOptions(port=8900))


def test_request_attributes_carry_the_options_and_the_group_family() -> None:
    attrs = dict(daemon_attrs(SyncRole.BACKUP, "eth0", 5, SyncOptions(1200, "ff02::81", 8900, 3)))
    assert attrs["IPVS_DAEMON_ATTR_MCAST_GROUP6"] == "ff02::81"
    assert (attrs["IPVS_DAEMON_ATTR_SYNC_MAXLEN"], attrs["IPVS_DAEMON_ATTR_MCAST_PORT"]) == (
        1200,
        8900,
    )
    assert attrs["IPVS_DAEMON_ATTR_MCAST_TTL"] == 3
    plain = dict(daemon_attrs(SyncRole.BACKUP, "eth0", 5, SyncOptions()))
    assert set(plain) == {
        "IPVS_DAEMON_ATTR_STATE",
        "IPVS_DAEMON_ATTR_MCAST_IFN",
        "IPVS_DAEMON_ATTR_SYNC_ID",
    }
