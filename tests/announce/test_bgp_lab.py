"""The BGP/ECMP lab with real routing daemons (tests/announce/lab.py): a BIRD 2 router with
ECMP over three directors running lvstui (userspace dataplane); d1 and d2 export lvstui's
table with BIRD, d3 announces the addresses on lvstui's tun device with FRR (zebra +
bgpd, `redistribute connected`, the address handoff). One lab for the module: the
fixture walks the scenario once and records each step as a named check; each test asserts
one check (a step that never ran fails as missing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lvstui.announce.peers import BirdPeers, FrrPeers
from tests.announce.lab import CLIENT, VIP, Lab, wait
from tests.helpers import require_root

pytestmark = [pytest.mark.root, pytest.mark.netns, pytest.mark.bird, pytest.mark.frr]

# End to end, kill -9 of lvstui → the router's route no longer goes through that director:
# the kernel deletes lvstui's tun device, with the route through it (BIRD's handoff) or the
# address on it (FRR's), within 2 s (test_kernel_table.py, test_tun_address.py); the
# director's daemon hears it by netlink and sends the BGP withdraw at once, the router
# rewrites its multipath route. docs/bgp.md documents this bound for both daemons.
WITHDRAW_BOUND_S = 5.0
PORTS_PER_ROUND = 240

Checks = dict[str, tuple[bool, str]]


def _spread(counts: Counter[str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def scenario(lab: Lab, checks: Checks) -> None:
    d = {n: lab.director_addr(n) for n in (1, 2, 3)}
    every = set(d.values())
    base = [41000]

    def round_() -> Counter[str]:
        lo = base[0]
        base[0] += PORTS_PER_ROUND
        return Counter(lab.connect_many(lo, lo + PORTS_PER_ROUND).values())

    def step(name: str, fn: Callable[[], str]) -> bool:
        try:
            checks[name] = (True, fn())
            return True
        except Exception as exc:  # recorded, asserted by its test
            checks[name] = (False, f"{exc!r}\n{traceback.format_exc()[-1200:]}")
            return False

    def ecmp() -> str:
        t = wait(lambda: lab.nexthops() == every, 90)
        # three daemons and their real servers starting on a loaded host: the route can be in
        # place before every director serves (early rounds then meet resets); retry, bounded
        tries = []
        deadline = time.monotonic() + 60
        while True:
            counts = round_()
            tries.append(_spread(counts))
            if set(counts) == every or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert set(counts) == every, f"not every director answered: {tries[-3:]}"
        return f"route over 3 directors after {t:.1f} s; {_spread(counts)}"

    if not step("lab_ecmp_over_every_director", ecmp):
        return

    def peers() -> str:
        # the session state read from the live daemons, as lvstui reads it
        bird = BirdPeers(str(lab.root / "d1.ctl")).peers()
        frr = FrrPeers(str(lab.root / "frr3")).peers()
        router = BirdPeers(str(lab.root / "router.ctl")).peers()
        assert [(p.name, p.established) for p in bird] == [("uplink", True)], bird
        assert [(p.name, p.established, p.prefixes_sent) for p in frr] == [
            ("192.0.2.1", True, 1)
        ], frr
        assert sorted(p.name for p in router if p.established) == ["d1", "d2", "d3"], router
        # and as lvstui status shows them (the announcement loop asks every 5 s)
        for n, name in ((1, "uplink"), (3, "192.0.2.1")):

            def shown(n: int = n, name: str = name) -> bool:
                doc = json.loads(lab.ctl(n, "status", "--json"))["bgp_peers"]
                return [(p["name"], p["established"]) for p in doc["peers"]] == [(name, True)]

            wait(shown, 20)
        return f"BIRD: {bird}; FRR: {frr}; lvstui status shows both"

    step("lab_peer_state_read_from_bird_and_frr", peers)

    def quorum_lost() -> str:
        lab.health(1, False)
        t = wait(lambda: lab.nexthops() == every - {d[1]}, 30)
        counts = round_()
        assert d[1] not in counts and set(counts) == every - {d[1]}, _spread(counts)

        # status reads the engine's snapshot, refreshed about once a second: it may still
        # show the last pass's decision for a moment after the route left the router
        def withdrawn_in_status() -> bool:
            said[:] = json.loads(lab.ctl(1, "status", "--json"))["announce"]
            return [(a["vip"], a["announced"]) for a in said] == [(VIP, False)]

        said: list[dict[str, object]] = []
        wait(withdrawn_in_status, 10)
        assert said[0]["reason"] == "a service has no quorum: TCP 198.51.100.10:80", said
        return (
            f"withdrawn {t:.2f} s after its checks started failing; {_spread(counts)}; "
            f"status: {said[0]['reason']}"
        )

    step("lab_quorum_loss_withdraws_and_no_new_connection_reaches_it", quorum_lost)

    def quorum_back() -> str:
        lab.health(1, True)
        t = wait(lambda: lab.nexthops() == every, 30)
        counts = round_()
        assert set(counts) == every, _spread(counts)
        return f"back in ECMP {t:.2f} s after its real servers passed again; {_spread(counts)}"

    step("lab_quorum_back_returns_to_ecmp", quorum_back)

    def less_preferred(n: int, settle: int) -> tuple[float, str, Counter[str]]:
        """drain-director on director n: the router stops choosing it (a less preferred path
        is not merged into ECMP) while it still announces, with the graceful-shutdown
        community; no new connection reaches it. The seconds it took, the router's routes,
        a round's spread."""
        said = lab.ctl(n, "ctl", "drain-director", "--settle", str(settle))
        assert "draining" in said, said
        t = wait(lambda: lab.nexthops() == every - {d[n]}, 30)
        assert lab.announced(n), f"d{n} withdrew instead of announcing less preferred"
        route = lab.birdc("router", "show", "route", "all", f"{VIP}/32")
        assert "(65535,0)" in route, route
        counts = round_()
        assert d[n] not in counts and set(counts) == every - {d[n]}, _spread(counts)
        return t, route, counts

    def drain() -> str:
        # requests in flight through every director, answered after 4 s; those through d1
        # as d1's kernel lists them (the userspace forwarder ends TCP there)
        lo = base[0]
        base[0] += 60
        log = lab.inflight(lo, lo + 60, "/slow/4")
        ss = lab.run_in(lab.d(1), "ss", "-Htn", "state", "established", "( sport = :80 )")
        through_d1 = sorted(
            int(cols[-1].rsplit(":", 1)[1])
            for cols in (line.split() for line in ss.splitlines())
            if cols and cols[-1].startswith(CLIENT + ":")
        )
        t0 = time.monotonic()
        t, _, counts = less_preferred(1, settle=6)
        # the requests in flight through d1 got their whole answer
        wait(lambda: "{" in log.read_text().splitlines()[-1], 120)
        answers = {int(k): v for k, v in json.loads(log.read_text().splitlines()[-1]).items()}
        via = Counter(answers.values())
        assert through_d1, ss
        # A plain ECMP router moves d1's flows the moment d1 leaves its route: a request in
        # flight finishes when its answer reaches the client before the client's next
        # packet goes to another director, which resets it (docs/bgp.md). Some do.
        done = sum(1 for p in through_d1 if answers[p] == d[1])
        assert done > 0, (through_d1, answers)
        reset = sum(1 for a in answers.values() if a.startswith("error"))
        # then safe: the route leaves d1's table, status says so
        wait(lambda: not lab.announced(1), 60)
        safe = time.monotonic() - t0
        st = json.loads(lab.ctl(1, "status", "--json"))
        assert "SAFE" in lab.ctl(1, "status"), st
        assert st["director_drain"]["phase"] == "safe", st
        assert [(a["vip"], a["announced"]) for a in st["announce"]] == [(VIP, False)], st
        assert lab.nexthops() == every - {d[1]}
        return (
            f"out of the router's ECMP {t:.2f} s after drain-director; {_spread(counts)}; "
            f"in flight through d1: {done} of {len(through_d1)} answered; {reset} of 60 "
            f"reset in all ({_spread(via)}); safe and withdrawn {safe:.1f} s after the drain"
        )

    step("lab_drain_director_new_stop_inflight_finish_then_safe", drain)

    def undrain(n: int) -> str:
        lab.ctl(n, "ctl", "undrain-director")
        t = wait(lambda: lab.nexthops() == every, 30)
        route = lab.birdc("router", "show", "route", "all", f"{VIP}/32")
        assert "(65535,0)" not in route, route
        counts = round_()
        assert set(counts) == every, _spread(counts)
        return f"back in ECMP {t:.2f} s after undrain-director; {_spread(counts)}"

    step("lab_undrain_director_back_in_ecmp", lambda: undrain(1))

    def kill9(n: int) -> str:
        t0 = lab.kill9(n)
        wait(lambda: d[n] not in lab.nexthops(), WITHDRAW_BOUND_S, interval=0.01)
        gone = time.monotonic() - t0
        counts = round_()
        assert d[n] not in counts, _spread(counts)
        assert not [k for k in counts if k.startswith("error")], _spread(counts)
        return f"route gone at the router {gone * 1000:.0f} ms after kill -9; {_spread(counts)}"

    def restart(n: int) -> str:
        lab.lvstui(n)
        t = wait(lambda: lab.nexthops() == every and lab.announced(n), 60)
        counts = round_()
        assert set(counts) == every, _spread(counts)
        return f"back in ECMP {t:.1f} s after the restart; {_spread(counts)}"

    step("lab_kill9_bird_director_withdrawn_within_bound", lambda: kill9(2))
    step("lab_restart_bird_director_back_in_ecmp", lambda: restart(2))

    def frr_quorum() -> str:
        lab.health(3, False)
        t1 = wait(lambda: lab.nexthops() == every - {d[3]}, 30)
        lab.health(3, True)
        t2 = wait(lambda: lab.nexthops() == every, 30)
        return f"FRR director: withdrawn after {t1:.2f} s, back after {t2:.2f} s"

    step("lab_frr_quorum_loss_withdraws_and_returns", frr_quorum)

    # FRR follows lvstui's address handoff: the kernel deletes the tun device with its
    # addresses (RTM_DELADDR, RTM_DELLINK), zebra drops the connected route, bgpd withdraws.
    # (With the route handoff FRR 8.4's import-table kept announcing a dead director.)
    step("lab_kill9_frr_director_withdrawn_within_bound", lambda: kill9(3))
    step("lab_restart_frr_director_back_in_ecmp", lambda: restart(3))

    def frr_drain() -> str:
        # FRR's route-map of docs/bgp.md: the drained address's metric 65535 becomes the
        # graceful-shutdown community and two more hops of AS path
        t0 = time.monotonic()
        t, route, counts = less_preferred(3, settle=3)
        assert "65013 65013 65013" in route, route
        wait(lambda: not lab.announced(3), 60)
        safe = time.monotonic() - t0

        # status reads the engine's snapshot, refreshed about once a second
        def safe_in_status() -> bool:
            st = json.loads(lab.ctl(3, "status", "--json"))
            return bool(st["director_drain"]["phase"] == "safe")

        wait(safe_in_status, 10)
        wait(lambda: "[d3 " not in lab.birdc("router", "show", "route", "all", f"{VIP}/32"), 10)
        assert lab.nexthops() == every - {d[3]}
        return (
            f"out of the router's ECMP {t:.2f} s after drain-director, still announced with "
            f"65535:0 and AS path 65013 65013 65013; {_spread(counts)}; safe and withdrawn "
            f"{safe:.1f} s after the drain"
        )

    step("lab_frr_drain_director_community_then_safe", frr_drain)

    step("lab_frr_undrain_director_back_in_ecmp", lambda: undrain(3))

    def frr_lo_trap() -> str:
        # the trap the lab works around: the VIP as an address on lo gives zebra a second
        # connected /32, and zebra selects lo's over the tun device's (a loopback wins a
        # tie of connected routes); the route-map matches the tun device only, so FRR
        # stops announcing
        dev = ("dev", "lo")
        lab.run_in(lab.d(3), "ip", "addr", "add", "198.51.100.10/32", *dev)
        try:
            wait(lambda: d[3] not in lab.nexthops(), 30)
        finally:
            lab.run_in(lab.d(3), "ip", "addr", "del", "198.51.100.10/32", *dev)
        wait(lambda: lab.nexthops() == every, 30)
        return "an address on lo hid the tun device's address (FRR withdrew); removed, back"

    step("lab_frr_vip_address_on_lo_hides_the_route", frr_lo_trap)


@pytest.fixture(scope="module")
def lab_checks() -> Iterator[tuple[Checks, str]]:
    require_root("the BGP namespace lab")
    for tool in ("bird", "birdc", "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh"):
        if shutil.which(tool) is None and not Path(tool).exists():
            pytest.skip(f"needs {tool} (apt bird2 / frr; .ci/run installs them)")
    root = Path(tempfile.mkdtemp(prefix="bgp-lab-"))
    lab = Lab(directors=3, daemon={3: "frr"}, root=root)
    checks: Checks = {}
    try:
        lab.up()
        lab.routing()
        for n in (1, 2, 3):
            lab.lvstui(n)
        scenario(lab, checks)
        yield checks, lab.tail()
    except subprocess.SubprocessError as exc:
        checks["lab_setup"] = (False, repr(exc))
        yield checks, lab.tail()
    finally:
        lab.close()
        shutil.rmtree(root, ignore_errors=True)


CHECKS = [
    "lab_ecmp_over_every_director",
    "lab_peer_state_read_from_bird_and_frr",
    "lab_quorum_loss_withdraws_and_no_new_connection_reaches_it",
    "lab_quorum_back_returns_to_ecmp",
    "lab_drain_director_new_stop_inflight_finish_then_safe",
    "lab_undrain_director_back_in_ecmp",
    "lab_kill9_bird_director_withdrawn_within_bound",
    "lab_restart_bird_director_back_in_ecmp",
    "lab_frr_quorum_loss_withdraws_and_returns",
    "lab_kill9_frr_director_withdrawn_within_bound",
    "lab_restart_frr_director_back_in_ecmp",
    "lab_frr_drain_director_community_then_safe",
    "lab_frr_undrain_director_back_in_ecmp",
    "lab_frr_vip_address_on_lo_hides_the_route",
]


@pytest.mark.parametrize("name", CHECKS)
def test_bgp_lab(lab_checks: tuple[Checks, str], name: str) -> None:
    checks, logs = lab_checks
    assert name in checks, f"{name} never ran: {checks}\n{logs[-4000:]}"
    ok, detail = checks[name]
    assert ok, f"{detail}\n{logs[-4000:]}"
    print(detail)  # the figures, with -rP
