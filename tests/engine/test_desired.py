"""Config + health + overrides + quorum → desired table (pure), table-driven."""

from __future__ import annotations

import pytest

from lvstui.config.schema import (
    Config,
    LbKind,
    MiscCheck,
    RealServer,
    SorryServer,
    TcpCheck,
    VirtualServer,
)
from lvstui.config.state import AddedReal, Overrides, service_key_of
from lvstui.engine.desired import RealHealth, desired_services, plan_service
from lvstui.model import Health, RealKey

CHK = (TcpCheck(),)
R1, R2, R3 = RealKey("192.0.2.1", 80), RealKey("192.0.2.2", 80), RealKey("192.0.2.3", 80)
SORRY = RealKey("192.0.2.55", 80)


def vs(**kw: object) -> VirtualServer:
    base: dict[str, object] = {
        "ip": "198.51.100.9",
        "port": 80,
        "lb_algo": "wrr",
        "real_servers": (
            RealServer("192.0.2.1", 80, weight=10, checks=CHK),
            RealServer("192.0.2.2", 80, weight=5, checks=CHK),
        ),
    }
    base.update(kw)
    return VirtualServer(**base)  # type: ignore[arg-type]


NO_OV = Overrides()


def table(v: VirtualServer, ov: Overrides = NO_OV, health=None, up=True):  # type: ignore[no-untyped-def]
    key = service_key_of(v)
    h = {(key, rk): RealHealth(st, w) for rk, (st, w) in (health or {}).items()}
    plan = plan_service(v, ov, h, up)
    return {d.key: d.weight for d in plan.desired.dests}, plan


K = service_key_of(vs())


@pytest.mark.parametrize(
    ("v", "ov", "health", "want"),
    [
        # nothing known yet: UNKNOWN counts as up (no alpha)
        (vs(), Overrides(), {}, {R1: 10, R2: 5}),
        # alpha: unknown means down
        (vs(alpha=True), Overrides(), {}, {}),
        # a dead server leaves the table...
        (vs(), Overrides(), {R1: (Health.DOWN, None)}, {R2: 5}),
        # ...or stays at weight 0 with inhibit_on_failure
        (vs(inhibit_on_failure=True), Overrides(), {R1: (Health.DOWN, None)}, {R1: 0, R2: 5}),
        # drain → 0, operator weight → that weight
        (vs(), Overrides().drain((K, R1), None), {}, {R1: 0, R2: 5}),
        (vs(), Overrides().set_weight((K, R2), 7), {}, {R1: 10, R2: 7}),
        # drain wins over an operator weight
        (vs(), Overrides().set_weight((K, R1), 7).drain((K, R1), None), {}, {R1: 0, R2: 5}),
        # removed at run time / added at run time (no check: always alive)
        (vs(), Overrides().remove((K, R2), configured=True), {}, {R1: 10}),
        (vs(), Overrides().add((K, R3), AddedReal(3)), {}, {R1: 10, R2: 5, R3: 3}),
    ],
)
def test_effective_weights(v, ov, health, want) -> None:  # type: ignore[no-untyped-def]
    got, _ = table(v, ov, health)
    assert got == want


def test_misc_dynamic_weight_and_override_precedence() -> None:
    v = vs(
        real_servers=(
            RealServer("192.0.2.1", 80, weight=10, checks=(MiscCheck("x", misc_dynamic=True),)),
        )
    )
    got, plan = table(v, health={R1: (Health.UP, 42)})
    assert got == {R1: 42} and plan.live_weight == 42
    got, _ = table(v, Overrides().set_weight((K, R1), 3), {R1: (Health.UP, 42)})
    assert got == {R1: 3}
    # a dynamic weight from a non-dynamic check is ignored
    got, _ = table(vs(), health={R1: (Health.UP, 42)})
    assert got[R1] == 10


def test_live_weight_counts_alive_effective_weights() -> None:
    _, plan = table(vs(), Overrides().drain((K, R2), None), {R1: (Health.UP, None)})
    assert plan.live_weight == 10
    _, plan = table(vs(), health={R1: (Health.DOWN, None)})
    assert plan.live_weight == 5


def test_sorry_server_replaces_alive_servers_when_quorum_down() -> None:
    v = vs(sorry_server=SorryServer("192.0.2.55", 80), quorum=20)
    got, plan = table(v, health={R1: (Health.UP, None)}, up=False)
    assert got == {SORRY: 1}
    assert plan.sorry_active and not plan.quorum_up
    # inhibited servers stay at weight 0, drained ones too (their connections finish)
    v2 = vs(sorry_server=SorryServer("192.0.2.55", 80), inhibit_on_failure=True)
    got, _ = table(v2, up=False)
    assert got == {SORRY: 1, R1: 0, R2: 0}
    got, _ = table(v, Overrides().drain((K, R1), None), up=False)
    assert got == {SORRY: 1, R1: 0}
    # quorum up: the sorry server is absent (or at 0 when it is itself inhibited)
    got, _ = table(v, up=True)
    assert got == {R1: 10, R2: 5}
    v3 = vs(sorry_server=SorryServer("192.0.2.55", 80, inhibit_on_failure=True))
    got, _ = table(v3, up=True)
    assert got == {R1: 10, R2: 5, SORRY: 0}


def test_sorry_server_that_is_also_a_real_server_is_listed_once() -> None:
    v = vs(sorry_server=SorryServer("192.0.2.2", 80))
    got, _ = table(v, up=False)
    assert got == {R2: 1}


def test_per_real_lb_kind_thresholds_and_service_options() -> None:
    v = vs(
        lb_kind=LbKind.DR,
        persistence_timeout=60,
        persistence_granularity="255.255.255.0",
        lb_flags=frozenset({"sh-port"}),
        real_servers=(
            RealServer("192.0.2.1", 80, lb_kind=LbKind.TUN, uthreshold=100, lthreshold=10),
            RealServer("192.0.2.2", 80),
        ),
    )
    (svc,) = desired_services(Config(virtual_servers=(v,)), Overrides(), {}, {})
    assert svc.scheduler == "wrr" and svc.persistence_timeout == 60
    assert svc.netmask == "255.255.255.0" and svc.flags == frozenset({"sh-port"})
    d1, d2 = svc.dests
    assert (d1.fwd, d1.u_threshold, d1.l_threshold) == (LbKind.TUN, 100, 10)
    assert d2.fwd is LbKind.DR


def test_initial_quorum_used_when_state_unknown() -> None:
    v = vs(quorum=100, sorry_server=SorryServer("192.0.2.55", 80))
    (svc,) = desired_services(Config(virtual_servers=(v,)), Overrides(), {}, {})
    assert [d.key for d in svc.dests] == [SORRY]


def test_active_passive_fo_is_passed_through() -> None:
    v = vs(lb_algo="fo")
    (svc,) = desired_services(Config(virtual_servers=(v,)), Overrides(), {}, {})
    assert svc.scheduler == "fo"
    assert {d.key: d.weight for d in svc.dests} == {R1: 10, R2: 5}
