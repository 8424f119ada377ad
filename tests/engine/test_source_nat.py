"""source_nat: the nftables rule (through the twin) follows the table at start, on an
operator add/remove, a reload, a failure and a stop; conntrack is set while it exists and
put back after. The kernel's own behaviour (traffic to a server with no route back) is in
tests/vm/guest_snat.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lvstui.clock import FakeClock
from lvstui.config.schema import Config, LbKind, RealServer
from lvstui.dataplane.base import Capabilities
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.engine.snat import CONNTRACK, SourceNat
from lvstui.model import AddReal, RealKey, RemoveReal
from lvstui.netfilter.nft import MemoryNft
from lvstui.netfilter.snat import FAMILY, TABLE, SnatTarget
from lvstui.netfilter.sysctl import MemorySysctls
from tests.engine.builders import SK, R, service
from tests.helpers import async_wait_until


def covered(nft: MemoryNft) -> list[object]:
    """The (address, proto, port) elements the table's rules match, and their actions."""
    t = nft.tables.get((FAMILY, TABLE))
    if t is None:
        return []
    out: list[object] = []
    for rule in t.rules:
        match, action = rule["expr"]
        elems = match["match"]["right"]["set"]
        out += [(tuple(e["concat"]) if isinstance(e, dict) else e, action) for e in elems]
    return sorted(out, key=str)


def setup(cfg: Config) -> tuple[Engine, MemoryNft, MemorySysctls]:
    nft = MemoryNft()
    sysctls = MemorySysctls({CONNTRACK: "0"})
    e = Engine(
        cfg, dataplane=MemoryDataplane(), clock=FakeClock(), source_nat=SourceNat(nft, sysctls)
    )
    return e, nft, sysctls


MASQ = {"masquerade": None}


async def test_rule_follows_start_add_remove_reload_and_stop() -> None:
    cfg = Config(virtual_servers=(service(source_nat=True),))
    e, nft, sysctls = setup(cfg)
    await e.start()
    try:
        assert covered(nft) == [((r.addr, "tcp", 80), MASQ) for r in R]
        assert sysctls.values[CONNTRACK] == "1"
        new = RealKey("192.0.2.77", 8080)
        assert (await e.call(AddReal(SK, new, 3))).ok
        assert ((new.addr, "tcp", 8080), MASQ) in covered(nft)
        assert (await e.call(RemoveReal(SK, R[0]))).ok
        assert ((R[0].addr, "tcp", 80), MASQ) not in covered(nft)
        # reload: snat to a fixed address instead of masquerade
        to = replace(cfg.virtual_servers[0], source_nat_address="198.51.100.1")
        assert (await e.reload(replace(cfg, virtual_servers=(to,)))).ok
        actions = {str(a) for _, a in covered(nft)}  # type: ignore[misc]
        assert actions == {str({"snat": {"family": "ip", "addr": "198.51.100.1"}})}
        # reload without source_nat: the table goes, conntrack is put back
        assert (await e.reload(replace(cfg, virtual_servers=(service(),)))).ok
        assert (FAMILY, TABLE) not in nft.tables
        assert sysctls.values[CONNTRACK] == "0"
        assert (await e.reload(cfg)).ok
        assert covered(nft) and sysctls.values[CONNTRACK] == "1"
    finally:
        await e.stop()
    assert (FAMILY, TABLE) not in nft.tables
    assert sysctls.values[CONNTRACK] == "0"


async def test_only_nat_servers_and_a_kept_table_on_upgrade() -> None:
    reals = (
        RealServer(R[0].addr, 80),
        RealServer(R[1].addr, 80, lb_kind=LbKind.DR),  # DR: the server answers the client
    )
    cfg = Config(virtual_servers=(service(source_nat=True, real_servers=reals),))
    e, nft, sysctls = setup(cfg)
    await e.start()
    assert covered(nft) == [((R[0].addr, "tcp", 80), MASQ)]
    await e.stop(release=False)  # an upgrade keeps the table: connections keep working
    assert covered(nft) == [((R[0].addr, "tcp", 80), MASQ)]
    assert sysctls.values[CONNTRACK] == "1"


async def test_a_refused_batch_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    cfg = Config(virtual_servers=(service(source_nat=True),))
    e, nft, sysctls = setup(cfg)
    nft.refuse = "Operation not permitted"
    await e.start()
    try:
        assert (FAMILY, TABLE) not in nft.tables
        assert sysctls.values[CONNTRACK] == "0"  # a refused rule leaves the sysctl alone
        await e.tick()  # the next tick asks for a full pass: this time nftables takes it
        await async_wait_until(lambda: len(covered(nft)) == len(R), 5)
        logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert logged == ["source_nat: nftables refused the batch: Operation not permitted"]
        assert sysctls.values[CONNTRACK] == "1"
    finally:
        await e.stop()
    assert (FAMILY, TABLE) not in nft.tables and sysctls.values[CONNTRACK] == "0"


async def test_a_table_that_never_went_in_is_not_removed_on_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """nftables refusing every batch (a kernel without its NAT): one error, none at stop."""
    e, nft, sysctls = setup(Config(virtual_servers=(service(source_nat=True),)))
    nft.refuse = "Operation not supported"
    await e.start()
    batches = nft.batches
    await e.stop()
    assert nft.batches == batches and sysctls.values[CONNTRACK] == "0"
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["source_nat: nftables refused the batch: Operation not supported"]


async def test_no_source_nat_touches_nothing() -> None:
    e, nft, sysctls = setup(Config(virtual_servers=(service(),)))
    await e.start()
    await e.stop()
    assert nft.batches == 0 and sysctls.values[CONNTRACK] == "0"


def test_targets_of_a_fwmark_service_match_any_port() -> None:
    from lvstui.dataplane.base import ObservedDest, ObservedService
    from lvstui.engine.snat import snat_targets
    from lvstui.model import Protocol, ServiceKey

    fwm = ServiceKey(Protocol.TCP, "", 0, fwmark=7)
    vs = replace(service(source_nat=True), ip=None, fwmark=7)
    obs = [ObservedService(fwm, "rr", dests=(ObservedDest(R[0], 1, LbKind.NAT),))]
    assert snat_targets(Config(virtual_servers=(vs,)), obs) == {SnatTarget(R[0].addr, "", 0)}


class NoNatDataplane(MemoryDataplane):
    """A dataplane without kernel NAT (as the userspace forwarder)."""

    @property
    def capabilities(self) -> Capabilities:
        return replace(super().capabilities, name="userspace", source_nat=False)


async def test_a_dataplane_without_kernel_nat_says_source_nat_is_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nft = MemoryNft()
    sysctls = MemorySysctls({CONNTRACK: "0"})
    cfg = Config(virtual_servers=(service(source_nat=True),))
    e = Engine(
        cfg, dataplane=NoNatDataplane(), clock=FakeClock(), source_nat=SourceNat(nft, sysctls)
    )
    await e.start()
    assert (await e.call(RemoveReal(SK, R[0]))).ok  # another pass: still said once
    await e.stop()
    assert nft.batches == 0 and sysctls.values[CONNTRACK] == "0"
    said = [r.getMessage() for r in caplog.records if "source_nat" in r.getMessage()]
    assert said == [
        "source_nat: the userspace dataplane has no kernel NAT; ignored (the userspace "
        "forwarder proxies: servers see the director anyway)"
    ]
