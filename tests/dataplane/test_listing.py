"""The ipvsadm -Ln renderer against golden text derived by hand from ipvsadm's C source."""

from __future__ import annotations

import json

from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane.base import ObservedDest, ObservedService
from lvstui.dataplane.listing import ListOptions, largenum, render, render_json, sort_services
from lvstui.model import RealKey, ServiceKey, Stats

TCP, UDP = Protocol.TCP, Protocol.UDP


def _g(text: str) -> str:
    """Golden text: a `|` marks the end of a line that ends in spaces (ipvsadm's padding)."""
    return text.replace("|\n", "\n")


def _table() -> list[ObservedService]:
    return [
        ObservedService(
            ServiceKey(TCP, "10.0.0.1", 80),
            "rr",
            dests=(
                ObservedDest(RealKey("10.1.0.2", 80), 2, LbKind.DR),
                ObservedDest(
                    RealKey("10.1.0.1", 80),
                    1,
                    LbKind.NAT,
                    active_conns=2,
                    inact_conns=3,
                    persist_conns=1,
                    u_threshold=100,
                    l_threshold=10,
                    stats=Stats(
                        conns=5,
                        inpkts=123456789,
                        outpkts=99999999,
                        inbytes=5_000_000_000,
                        outbytes=123_456_789_012,
                        cps=3,
                        inpps=40,
                        outpps=41,
                        inbps=4000,
                        outbps=250_000_000,
                    ),
                ),
            ),
            stats=Stats(
                conns=5,
                inpkts=10,
                outpkts=11,
                inbytes=1000,
                outbytes=2000,
                cps=1,
                inpps=2,
                outpps=3,
                inbps=400,
                outbps=500,
            ),
        ),
        ObservedService(
            ServiceKey(UDP, "10.0.0.1", 53), "sh", flags=frozenset({"sh-port", "sh-fallback"})
        ),
        ObservedService(
            ServiceKey(TCP, "", 0, fwmark=7),
            "rr",
            dests=(ObservedDest(RealKey("10.1.0.5", 0), 1, LbKind.TUN),),
        ),
        ObservedService(
            ServiceKey(TCP, "2001:db8::1", 443, family=6),
            "mh",
            flags=frozenset({"mh-port"}),
            persistence_timeout=60,
            netmask="64",
            dests=(ObservedDest(RealKey("2001:db8::10", 8443), 1, LbKind.NAT),),
        ),
        ObservedService(
            ServiceKey(TCP, "192.168.0.1", 80),
            "wlc",
            persistence_timeout=300,
            netmask="255.255.255.0",
            flags=frozenset({"ops"}),
        ),
        ObservedService(
            ServiceKey(TCP, "192.168.0.1", 81),
            "wrr",
            persistence_timeout=300,
            netmask="255.255.255.255",
        ),
    ]


PLAIN = _g("""\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.0.1:80 wlc persistent 300 mask 255.255.255.0 ops
TCP  192.168.0.1:81 wrr persistent 300
TCP  10.0.0.1:80 rr
  -> 10.1.0.1:80                  Masq    1      2          3         |
  -> 10.1.0.2:80                  Route   2      0          0         |
UDP  10.0.0.1:53 sh (sh-fallback,sh-port)
TCP  [2001:db8::1]:443 mh (mh-port) persistent 60 mask 64
  -> [2001:db8::10]:8443          Masq    1      0          0         |
FWM  7 rr
  -> 10.1.0.5:0                   Tunnel  1      0          0         |
""")

STATS = _g("""\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  192.168.0.1:80                      0        0        0        0        0
TCP  192.168.0.1:81                      0        0        0        0        0
TCP  10.0.0.1:80                         5       10       11     1000     2000
  -> 10.1.0.1:80                         5  123456K 99999999    5000M     123G
  -> 10.1.0.2:80                         0        0        0        0        0
UDP  10.0.0.1:53                         0        0        0        0        0
TCP  [2001:db8::1]:443                   0        0        0        0        0
  -> [2001:db8::10]:8443                 0        0        0        0        0
FWM  7                                   0        0        0        0        0
  -> 10.1.0.5:0                          0        0        0        0        0
""")

RATE_HEAD = _g("""\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  192.168.0.1:80                      0        0        0        0        0
TCP  192.168.0.1:81                      0        0        0        0        0
TCP  10.0.0.1:80                         1        2        3      400      500
  -> 10.1.0.1:80                         3       40       41     4000  250000K
""")

EXACT_LINE = (
    "  -> 10.1.0.1:80                         5 123456789 99999999 5000000000 123456789012\n"
)

PCONN_HEAD = _g("""\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn |
  -> RemoteAddress:Port
TCP  192.168.0.1:80 wlc persistent 300 mask 255.255.255.0 ops
TCP  192.168.0.1:81 wrr persistent 300
TCP  10.0.0.1:80 rr
  -> 10.1.0.1:80                  1         1           2          3         |
""")

THRESH_LINE = "  -> 10.1.0.1:80                  100        10         2          3         \n"


def test_plain() -> None:
    assert render(_table()) == PLAIN


def test_stats() -> None:
    assert render(_table(), ListOptions(stats=True)) == STATS


def test_rate() -> None:
    assert render(_table(), ListOptions(rate=True)).startswith(RATE_HEAD)


def test_exact() -> None:
    out = render(_table(), ListOptions(stats=True, exact=True))
    assert EXACT_LINE in out


def test_persistent_conn() -> None:
    assert render(_table(), ListOptions(persistent_conn=True)).startswith(PCONN_HEAD)


def test_thresholds() -> None:
    out = render(_table(), ListOptions(thresholds=True))
    assert "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n" in out
    assert THRESH_LINE in out


def test_empty() -> None:
    assert render([]) == (
        "IP Virtual Server version 1.2.1 (size=4096)\n"
        "Prot LocalAddress:Port Scheduler Flags\n"
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    )


def test_largenum() -> None:
    assert largenum(0) == "        0"
    assert largenum(99_999_999) == " 99999999"
    assert largenum(100_000_000) == "  100000K"
    assert largenum(999_999_999) == "  999999K"
    assert largenum(1_000_000_000) == "    1000M"
    assert largenum(99_999_999_999) == "   99999M"
    assert largenum(100_000_000_000) == "     100G"
    assert largenum(100_000_000_000_000) == "     100T"
    assert largenum(12345678, exact=True) == " 12345678"
    assert largenum(123456789, exact=True) == " 123456789"
    assert largenum(1234567890123, exact=True) == " 1234567890123"


def test_sort_uses_c_int_subtraction() -> None:
    # ipvsadm compares addresses as int(u32 - u32): 10.x sorts after 192.168.x, and
    # addresses more than 2^31 apart compare "backwards"
    keys = [str(s.key) for s in sort_services(_table())]
    assert keys == [
        "TCP 192.168.0.1:80",
        "TCP 192.168.0.1:81",
        "TCP 10.0.0.1:80",
        "UDP 10.0.0.1:53",
        "TCP [2001:db8::1]:443",
        "FWM 7",
    ]
    near = [
        ObservedService(ServiceKey(TCP, a, 80), "rr") for a in ("10.0.0.3", "10.0.0.1", "10.0.0.2")
    ]
    assert [s.key.addr for s in sort_services(near)] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_nosort_keeps_order() -> None:
    out = render(_table(), ListOptions(nosort=True))
    assert out.index("TCP  10.0.0.1:80 rr") < out.index("TCP  192.168.0.1:80")
    assert out.index("10.1.0.2:80") < out.index("10.1.0.1:80")


def test_json() -> None:
    data = json.loads(render_json(_table()))
    assert data["version"] == "1.2.1"
    svc = data["services"][2]
    assert svc["service"] == "TCP 10.0.0.1:80"
    assert [r["address"] for r in svc["real_servers"]] == ["10.1.0.1", "10.1.0.2"]
    assert svc["real_servers"][0]["forward"] == "Masq"
    assert svc["real_servers"][0]["stats"]["outbytes"] == 123_456_789_012
    assert data["services"][-1]["fwmark"] == 7


# Captured from ipvsadm 1.31 (`ipvsadm -Ln`) in the User-Mode-Linux guest (Linux 6.1), for a
# table programmed with ipvsadm; the input below is the kernel's order (`--nosort`).
GUEST = _g("""\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.0.1:80 rr
TCP  10.0.0.1:80 rr
  -> 10.1.0.1:80                  Masq    1      0          0         |
  -> 10.1.0.2:80                  Masq    2      0          0         |
  -> 10.1.0.3:80                  Route   3      0          0         |
TCP  10.0.0.3:80 rr
  -> 172.16.0.1:80                Masq    1      0          0         |
  -> 192.168.5.1:80               Masq    1      0          0         |
  -> 10.1.0.200:80                Masq    1      0          0         |
UDP  10.0.0.1:53 wlc persistent 300 mask 255.255.255.0
  -> 10.1.0.9:53                  Tunnel  0      0          0         |
UDP  10.0.0.2:8080 wrr ops
TCP  [2001:db8::1]:443 mh (mh-port) persistent 60
  -> [2001:db8::10]:8443          Masq    1      0          0         |
FWM  7 sh (sh-fallback,sh-port)
  -> 10.1.0.5:0                   Route   1      0          0         |
""")


def _guest_table() -> list[ObservedService]:
    def d(addr: str, port: int, w: int, fwd: LbKind = LbKind.NAT) -> ObservedDest:
        return ObservedDest(RealKey(addr, port), w, fwd)

    return [
        ObservedService(
            ServiceKey(TCP, "10.0.0.3", 80),
            "rr",
            dests=(d("172.16.0.1", 80, 1), d("192.168.5.1", 80, 1), d("10.1.0.200", 80, 1)),
        ),
        ObservedService(
            ServiceKey(TCP, "10.0.0.1", 80),
            "rr",
            dests=(d("10.1.0.3", 80, 3, LbKind.DR), d("10.1.0.2", 80, 2), d("10.1.0.1", 80, 1)),
        ),
        ObservedService(
            ServiceKey(TCP, "2001:db8::1", 443, family=6),
            "mh",
            flags=frozenset({"mh-port"}),
            persistence_timeout=60,
            netmask="128",
            dests=(d("2001:db8::10", 8443, 1),),
        ),
        ObservedService(
            ServiceKey(UDP, "10.0.0.1", 53),
            "wlc",
            persistence_timeout=300,
            netmask="255.255.255.0",
            dests=(d("10.1.0.9", 53, 0, LbKind.TUN),),
        ),
        ObservedService(ServiceKey(UDP, "10.0.0.2", 8080), "wrr", flags=frozenset({"ops"})),
        ObservedService(
            ServiceKey(TCP, "", 0, fwmark=7),
            "sh",
            flags=frozenset({"sh-fallback", "sh-port"}),
            dests=(d("10.1.0.5", 0, 1, LbKind.DR),),
        ),
        ObservedService(ServiceKey(TCP, "192.168.0.1", 80), "rr"),
    ]


def test_matches_real_ipvsadm_output() -> None:
    assert render(_guest_table()) == GUEST
