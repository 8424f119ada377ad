"""The nftables edge: batches built from a TableSpec, the in-memory twin, and the same
batches through the real `nft -j` in a namespace of the test's own (root)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from lvstui.errors import DataplaneError
from lvstui.netfilter.nft import (
    Chain,
    MemoryNft,
    Nft,
    NftCommand,
    NftSet,
    TableSpec,
    delete_table,
    replace_table,
)
from lvstui.netfilter.snat import FAMILY, TABLE, SnatTarget, snat_table
from tests.helpers import network_namespace, require_cmd, require_root

SPEC = TableSpec(
    "inet",
    "lvt_test",
    chains=(Chain("input", "filter", "input", 0),),
    sets=(NftSet("vips", ("ipv4_addr",), ("192.0.2.10", "192.0.2.11")),),
    rules=(
        (
            "input",
            (
                {
                    "match": {
                        "op": "==",
                        "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                        "right": "@vips",
                    }
                },
                {"drop": None},
            ),
        ),
    ),
)


def shape(items: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    """Kinds and names of a table's objects (what both the twin and nft report)."""
    out = []
    for item in items or []:
        ((kind, body),) = item.items()
        out.append((kind, str(body.get("name", body.get("chain", "")))))
    return sorted(out)


def test_replace_batch_starts_by_removing_the_table_whatever_is_there() -> None:
    batch = replace_table(SPEC)
    assert batch[:3] == [
        {"add": {"table": {"family": "inet", "name": "lvt_test"}}},
        {"delete": {"table": {"family": "inet", "name": "lvt_test"}}},
        {"add": {"table": {"family": "inet", "name": "lvt_test"}}},
    ]
    kinds = [next(iter(c["add"])) for c in batch[3:]]
    assert kinds == ["chain", "set", "rule"]  # a rule's set and chain exist before it


async def test_twin_replaces_whole_tables_and_leaves_others() -> None:
    nft = MemoryNft()
    await nft.run(replace_table(SPEC))
    other = TableSpec("ip", "someone_else", chains=(Chain("c", "filter", "forward", 0),))
    await nft.run(replace_table(other))
    await nft.run(replace_table(SPEC))  # again: the same content, not twice the rules
    got = await nft.table("inet", "lvt_test")
    assert shape(got) == [
        ("chain", "input"),
        ("rule", "input"),
        ("set", "vips"),
        ("table", "lvt_test"),
    ]
    await nft.run(delete_table("inet", "lvt_test"))
    await nft.run(delete_table("inet", "lvt_test"))  # absent: no error
    assert await nft.table("inet", "lvt_test") is None
    assert await nft.table("ip", "someone_else") is not None


async def test_twin_refuses_a_batch_whole() -> None:
    nft = MemoryNft()
    await nft.run(replace_table(SPEC))
    bad = replace_table(TableSpec("inet", "lvt_test", chains=SPEC.chains, rules=SPEC.rules))
    with pytest.raises(DataplaneError, match="vips"):  # the rule's set is missing
        await nft.run(bad)
    assert shape(await nft.table("inet", "lvt_test")) == shape(
        [
            {"table": {"name": "lvt_test"}},
            {"chain": {"name": "input"}},
            {"set": {"name": "vips"}},
            {"rule": {"chain": "input"}},
        ]
    )  # nothing of the refused batch happened
    nft.refuse = "Operation not permitted"
    with pytest.raises(DataplaneError, match="not permitted"):
        await nft.run(delete_table("inet", "lvt_test"))
    assert await nft.table("inet", "lvt_test") is not None


def test_snat_table_groups_by_family_port_and_address() -> None:
    assert snat_table([]) is None
    spec = snat_table(
        [
            SnatTarget("203.0.113.11", "tcp", 80),
            SnatTarget("203.0.113.12", "tcp", 80),
            SnatTarget("203.0.113.11", "tcp", 80),  # twice: one element
            SnatTarget("2001:db8::5", "udp", 53),
            SnatTarget("203.0.113.13", "", 0),  # fwmark service: any port
            SnatTarget("203.0.113.14", "tcp", 80, to="198.51.100.1"),
        ]
    )
    assert spec is not None and (spec.family, spec.name) == (FAMILY, TABLE)
    assert [c.hook for c in spec.chains] == ["postrouting"]
    actions = [rule[-1] for _, rule in spec.rules]
    sets = [rule[0]["match"]["right"]["set"] for _, rule in spec.rules]
    assert sets == [
        ["203.0.113.13"],
        [{"concat": ["203.0.113.11", "tcp", 80]}, {"concat": ["203.0.113.12", "tcp", 80]}],
        [{"concat": ["203.0.113.14", "tcp", 80]}],
        [{"concat": ["2001:db8::5", "udp", 53]}],
    ]
    assert actions == [
        {"masquerade": None},
        {"masquerade": None},
        {"snat": {"family": "ip", "addr": "198.51.100.1"}},
        {"masquerade": None},
    ]


@pytest.mark.root
@pytest.mark.netns
def test_twin_and_nft_agree_in_a_namespace() -> None:
    """The batches the twin takes, real nftables takes too, with the same result."""
    require_root("nftables in a network namespace")
    require_cmd("nft", "ip")
    name = f"lvt-nft-{os.getpid()}"
    with network_namespace(name):
        real: Nft = NftCommand(prefix=("ip", "netns", "exec", name))
        twin = MemoryNft()

        async def both() -> None:
            snat = snat_table(
                [SnatTarget("203.0.113.11", "tcp", 80), SnatTarget("2001:db8::5", "", 0)]
            )
            assert snat is not None
            for nft in (real, twin):
                await nft.run(replace_table(SPEC))
                await nft.run(replace_table(SPEC))
                await nft.run(replace_table(snat))
            for fam, tab in (("inet", "lvt_test"), (FAMILY, TABLE)):
                assert shape(await real.table(fam, tab)) == shape(await twin.table(fam, tab))
            bad = replace_table(TableSpec("inet", "lvt_test", chains=SPEC.chains, rules=SPEC.rules))
            for nft in (real, twin):
                with pytest.raises(DataplaneError):
                    await nft.run(bad)
                assert shape(await nft.table("inet", "lvt_test")) == shape(
                    await twin.table("inet", "lvt_test")
                )
                await nft.run(delete_table("inet", "lvt_test"))
                await nft.run(delete_table("inet", "lvt_test"))
                assert await nft.table("inet", "lvt_test") is None

        asyncio.run(both())
