"""Source NAT follows the table: the nftables rule covers exactly the NAT real servers the
dataplane holds for services with `source_nat`, after every pass (start, health, operator
add/remove, reload), and goes away on stop (not on a stop that keeps the table: upgrade).

The rule only works when IPVS lets conntrack see its connections (net.ipv4.vs.conntrack=1):
set while any source-NAT rule exists, put back as it was when the last one goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from lvstui.config.schema import Config
from lvstui.config.state import service_key_of
from lvstui.dataplane.base import ObservedService
from lvstui.errors import DataplaneError, LvstuiError
from lvstui.model import LbKind
from lvstui.netfilter.nft import Nft, delete_table, replace_table
from lvstui.netfilter.snat import FAMILY, TABLE, SnatTarget, snat_table
from lvstui.netfilter.sysctl import Sysctls

__all__ = ["CONNTRACK", "SourceNat", "snat_targets"]

CONNTRACK = "net.ipv4.vs.conntrack"  # IPv4 and IPv6 alike, despite the name


def snat_targets(config: Config, observed: Sequence[ObservedService]) -> frozenset[SnatTarget]:
    """What the rule must cover: the NAT destinations of the source_nat services as the
    dataplane holds them (weight 0 too: a drained server's connections still need it)."""
    wanted = {service_key_of(vs): vs for vs in config.virtual_servers if vs.source_nat}
    out: set[SnatTarget] = set()
    for svc in observed:
        vs = wanted.get(svc.key)
        if vs is None:
            continue
        proto = "" if svc.key.fwmark else svc.key.protocol.value.lower()
        to = vs.source_nat_address or ""
        for d in svc.dests:
            if d.fwd is LbKind.NAT:
                out.add(SnatTarget(d.key.addr, proto, d.key.port if proto else 0, to))
    return frozenset(out)


class SourceNat:
    def __init__(self, nft: Nft, sysctls: Sysctls) -> None:
        self._nft = nft
        self._sysctls = sysctls
        self._applied: frozenset[SnatTarget] | None = None  # None: not known (start, failure)
        self._conntrack_was: str | None = None  # set: we turned it on, this was its value
        self._last_error = ""
        self._installed = False  # our table is (or may be) in the kernel

    @property
    def applied(self) -> frozenset[SnatTarget] | None:
        return self._applied

    async def follow(self, config: Config, observed: Sequence[ObservedService]) -> str:
        """Bring the rule in step; "" or an error to log (once per distinct error)."""
        want = snat_targets(config, observed)
        if want == self._applied:
            return ""
        if not want and self._applied is None:
            # nothing wanted and nothing known: remove a table a previous run left, but a
            # host without nftables (or without the table) is no error
            try:
                there = await self._nft.table(FAMILY, TABLE)
            except LvstuiError:
                there = None
            if there is None:
                self._applied = want
                return ""
            self._installed = True
        try:
            spec = snat_table(want)
            await self._nft.run(replace_table(spec) if spec else delete_table(FAMILY, TABLE))
            self._installed = bool(want)
            # conntrack after the rule: a refused rule leaves the sysctl as it was
            if want:
                self._conntrack_on()
            else:
                self._conntrack_back()
        except (LvstuiError, OSError) as e:
            self._applied = None
            msg = f"source_nat: {e}"
            if msg == self._last_error:
                return ""
            self._last_error = msg
            return msg
        self._applied = want
        self._last_error = ""
        return ""

    async def release(self) -> None:
        """Remove the rule and put conntrack back (a stop that releases the table)."""
        if not self._installed and self._conntrack_was is None:
            return
        try:
            if self._installed:
                await self._nft.run(delete_table(FAMILY, TABLE))
                self._installed = False
                self._applied = frozenset()
        finally:
            try:
                self._conntrack_back()
            except OSError as e:
                raise DataplaneError(f"source_nat: putting {CONNTRACK} back: {e}") from None

    def _conntrack_on(self) -> None:
        now = self._sysctls.read(CONNTRACK)
        if now is None:
            raise OSError(f"{CONNTRACK} is missing (is the ip_vs module loaded?)")
        if now != "1":
            self._sysctls.write(CONNTRACK, "1")
            if self._conntrack_was is None:
                self._conntrack_was = now

    def _conntrack_back(self) -> None:
        if self._conntrack_was is not None:
            self._sysctls.write(CONNTRACK, self._conntrack_was)
            self._conntrack_was = None
