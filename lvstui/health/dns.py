"""DNS_CHECK: one query over UDP (dnspython builds and parses it) to connect_ip:connect_port.

keepalived's rule is that an answer with rcode NOERROR is alive. We add one more: the answer
must hold a record of the asked type for the asked name (or a CNAME chain to one); a NOERROR
with nothing of that type (NODATA: the zone lost the record, or the server answers something
else) is down, because the service behind the name would not work either. A CNAME query
needs the CNAME itself.

No answer within connect_timeout, an ICMP error, a truncated or unparsable answer, a reply
that is not ours (another id or question) are all down, with the reason said.
"""

from __future__ import annotations

import asyncio
import time

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from lvstui.config.schema import DNS_TYPES, DnsCheck
from lvstui.errors import CheckError
from lvstui.health.base import CheckResult, CheckSpec, fail, passed

__all__ = ["DnsChecker", "answers_type"]


def answers_type(response: dns.message.Message, qname: dns.name.Name, rdtype: int) -> bool:
    """Whether the answer section has an `rdtype` record for `qname`, following CNAMEs
    (bounded: a loop of CNAMEs ends)."""
    name = qname
    for _ in range(16):
        cname = None
        for rrset in response.answer:
            if rrset.name != name:
                continue
            if rrset.rdtype == rdtype and len(rrset):
                return True
            if rrset.rdtype == dns.rdatatype.CNAME and len(rrset):
                cname = rrset[0].target
        if cname is None or rdtype == dns.rdatatype.CNAME:
            return False
        name = cname
    return False


class DnsChecker:
    __slots__ = ("_name", "_rdtype", "_spec")

    def __init__(self, spec: CheckSpec, check: DnsCheck) -> None:
        if check.type.upper() not in DNS_TYPES:
            raise CheckError(
                f"DNS_CHECK type {check.type!r} is not one keepalived supports",
                hint=f"use one of {', '.join(DNS_TYPES)}",
            )
        try:
            self._name = dns.name.from_text(check.name)
        except dns.exception.DNSException as exc:
            raise CheckError(f"DNS_CHECK name {check.name!r}: {exc}") from exc
        self._rdtype = dns.rdatatype.from_text(check.type.upper())
        self._spec = spec

    @property
    def spec(self) -> CheckSpec:
        return self._spec

    async def run(self) -> CheckResult:
        spec = self._spec
        t = spec.target
        started = time.monotonic()
        query = dns.message.make_query(self._name, self._rdtype)
        try:
            async with asyncio.timeout(spec.timeout):
                response = await dns.asyncquery.udp(
                    query,
                    t.ip,
                    port=t.port,
                    source=t.bindto,
                    source_port=t.bind_port or 0,
                    ignore_unexpected=True,  # a stray datagram is not the answer: keep waiting
                )
        except TimeoutError:
            return fail(started, f"no answer within {spec.timeout:g}s")
        except OSError as exc:
            return fail(started, f"query failed: {exc.strerror or exc}")
        except dns.exception.DNSException as exc:
            return fail(started, f"bad answer: {exc}")
        rcode = response.rcode()
        what = f"{dns.rdatatype.to_text(self._rdtype)} {self._name}"
        if rcode != dns.rcode.NOERROR:
            return fail(started, f"{what}: {dns.rcode.to_text(rcode)}")
        if response.flags & dns.flags.TC:
            return fail(started, f"{what}: truncated answer")
        if not answers_type(response, self._name, self._rdtype):
            return fail(started, f"{what}: no such record in the answer (NODATA)")
        return passed(started, f"{what}: NOERROR")
