"""Pure renderings of `lvstui status` and the Snapshot → ipvsadm-rows adapter of `list`."""

from __future__ import annotations

from dataclasses import replace

from lvstui.commands.list_cmd import observed_from_snapshot
from lvstui.commands.status import age, render_status, status_json
from lvstui.config.schema import LbKind, Protocol
from lvstui.dataplane.listing import render
from lvstui.model import (
    CheckView,
    DrainState,
    Health,
    RealKey,
    RealServerView,
    ServiceKey,
    ServiceView,
    Snapshot,
    VrrpRunState,
    VrrpView,
)

NOW = 1_700_000_100.0
SVC = ServiceKey(Protocol.TCP, "192.168.10.9", 80)


def snap() -> Snapshot:
    check = CheckView(
        kind="http_get",
        target="http://192.168.10.98:80/test_vie.php",
        health=Health.UP,
        last_run=NOW - 4.25,
        last_ok=True,
        last_latency=0.012,
        period=6.0,
        runs=10,
        failures=1,
    )
    failing = replace(
        check,
        target="http://192.168.10.85:80/test_vie.php",
        health=Health.DOWN,
        last_ok=False,
        last_reason="status 500",
        last_run=NOW - 200,
    )
    reals = (
        RealServerView(
            key=RealKey("192.168.10.98", 80),
            fwd=LbKind.DR,
            weight_config=1,
            weight=1,
            health=Health.UP,
            active_conns=3,
            checks=(check,),
        ),
        RealServerView(
            key=RealKey("192.168.10.85", 80),
            fwd=LbKind.DR,
            weight_config=1,
            weight=0,
            health=Health.DOWN,
            checks=(failing,),
            in_table=False,
        ),
        RealServerView(
            key=RealKey("192.168.10.97", 80),
            fwd=LbKind.DR,
            weight_config=2,
            weight=0,
            health=Health.UP,
            drain=DrainState.DRAINING,
            inact_conns=1,
        ),
        RealServerView(
            key=RealKey("192.168.10.55", 80),
            fwd=LbKind.DR,
            weight_config=1,
            weight=1,
            is_sorry=True,
        ),
    )
    svc = ServiceView(
        key=SVC,
        scheduler="rr",
        lb_kind=LbKind.DR,
        quorum=2,
        hysteresis=1,
        live_weight=1,
        quorum_up=False,
        sorry_active=False,
        sorry_server=RealKey("192.168.10.55", 80),
        real_servers=reals,
    )
    vrrp = VrrpView(
        name="linuxfr",
        interface="eth0",
        vrid=51,
        state=VrrpRunState.MASTER,
        priority=150,
        base_priority=150,
        version=2,
        advert_int=1.0,
        vips=("192.168.10.9",),
        sync_group="VG1",
        last_transition=NOW - 3725,
        reason="higher priority",
    )
    return Snapshot(
        seq=1, time=NOW, router_id="LVS", dataplane="ipvs", services=(svc,), vrrp=(vrrp,)
    )


def test_age() -> None:
    assert age(None, NOW) == "never"
    assert age(NOW - 4.25, NOW) == "4.2s"
    assert age(NOW - 185, NOW) == "3m05s"
    assert age(NOW - 3725, NOW) == "1h02m"
    assert age(NOW + 5, NOW) == "0.0s"  # a clock step never shows a negative age


def test_status_text() -> None:
    text = render_status(snap(), NOW)
    assert text.splitlines()[0] == "router_id LVS, dataplane ipvs"
    assert (
        "  linuxfr          MASTER  prio 150      vrid 51  eth0       v2 master self"
        "            since 1h02m  vips 192.168.10.9  sync VG1  (higher priority)"
    ) in text
    assert (
        "  TCP 192.168.10.9:80 rr DR: quorum DOWN (live weight 1, quorum 2 hysteresis 1); "
        "sorry server 192.168.10.55:80 idle"
    ) in text
    assert "last run 4.2s ago ok 12ms  (every 6s, 1/10 failed)" in text
    assert "last run 3m20s ago FAILED 12ms: status 500" in text
    assert "[drain draining]" in text and "[not in table]" in text
    assert "[sorry server]" in text


def test_status_json() -> None:
    data = status_json(snap(), NOW)
    (v,) = data["vrrp"]
    assert v["state"] == "MASTER" and v["since_seconds"] == 3725.0
    (s,) = data["services"]
    assert s["quorum_up"] is False and s["sorry_server"] == "192.168.10.55:80"
    first = s["real_servers"][0]
    assert first["checks"][0]["last_run_age"] == 4.25
    assert first["checks"][0]["last_ok"] is True


def test_list_rows_follow_the_table() -> None:
    rows = observed_from_snapshot(snap())
    text = render(rows)
    # the failed server (out of the table) and the idle sorry server are not listed
    assert text.splitlines()[3:] == [
        "TCP  192.168.10.9:80 rr",
        "  -> 192.168.10.97:80             Route   0      0          1         ",
        "  -> 192.168.10.98:80             Route   1      3          0         ",
    ]
    active = replace(snap().services[0], sorry_active=True)
    text = render(observed_from_snapshot(replace(snap(), services=(active,))))
    assert "  -> 192.168.10.55:80             Route   1" in text


def test_status_shows_shared_probes_stale_checks_and_ramps() -> None:
    s = snap()
    sv = s.services[0]
    r0 = sv.real_servers[0]
    c0 = replace(r0.checks[0], shared=100, stale=True)
    r0 = replace(r0, checks=(c0,), ramp_until=NOW + 20)
    s = replace(s, services=(replace(sv, real_servers=(r0, *sv.real_servers[1:])),))
    text = render_status(s, NOW)
    assert "1/10 failed, one probe for 100 servers, STALE: no completed run" in text
    assert "[slow start: ramping]" in text
    check = status_json(s, NOW)["services"][0]["real_servers"][0]["checks"][0]
    assert (check["shared"], check["stale"]) == (100, True)
