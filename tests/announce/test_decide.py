from __future__ import annotations

from lvstui.announce.base import MemoryAnnouncer
from lvstui.announce.decide import Reason, ServiceView, VipView, apply, decide, decide_all

UP = ServiceView("tcp:80", True)
DOWN = ServiceView("tcp:443", False)


def test_announced_when_all_services_have_quorum_and_served() -> None:
    d = decide(VipView("198.51.100.1", (UP, ServiceView("udp:53", True)), True), drained=False)
    assert d.announce and d.reason is Reason.ANNOUNCED


def test_one_service_without_quorum_withdraws_the_vip_and_names_it() -> None:
    d = decide(VipView("198.51.100.1", (UP, DOWN), True), drained=False)
    assert not d.announce
    assert d.reason is Reason.NO_QUORUM
    assert d.text() == "a service has no quorum: tcp:443"


def test_not_served_by_the_dataplane_withdraws() -> None:
    d = decide(VipView("198.51.100.1", (UP,), False), drained=False)
    assert (d.announce, d.reason) == (False, Reason.NOT_SERVED)


def test_quorum_loss_is_named_rather_than_its_effect() -> None:
    """Every real server failed: out of the table (not served) because quorum is lost; the
    reason names the service."""
    d = decide(VipView("198.51.100.1", (DOWN,), False), drained=False)
    assert (d.announce, d.text()) == (False, "a service has no quorum: tcp:443")


def test_drain_outranks_health() -> None:
    d = decide(VipView("198.51.100.1", (UP,), True), drained=True)
    assert (d.announce, d.reason) == (False, Reason.DRAINED)
    assert d.text() == "director drained"


def test_a_vip_without_services_is_not_announced() -> None:
    d = decide(VipView("198.51.100.1", (), True), drained=False)
    assert (d.announce, d.reason) == (False, Reason.NO_SERVICES)


def test_apply_reconciles_and_drops_vips_no_decision_covers() -> None:
    a = MemoryAnnouncer()
    a.announce("198.51.100.9")  # announced by a config a reload removed
    a.announce("198.51.100.2")  # lost quorum since
    views = [
        VipView("198.51.100.1", (UP,), True),
        VipView("198.51.100.2", (DOWN,), True),
        VipView("2001:db8::1", (UP,), True),
    ]
    apply(a, decide_all(views, drained=False))
    assert a.announced() == {"198.51.100.1", "2001:db8::1"}
    # Withdrawals go first, so a failing announce never leaves a stale route behind.
    assert a.log[2:] == [
        ("withdraw", "198.51.100.2"),
        ("withdraw", "198.51.100.9"),
        ("announce", "198.51.100.1"),
        ("announce", "2001:db8::1"),
    ]
    apply(a, decide_all(views, drained=True))
    assert a.announced() == frozenset()


def test_memory_twin_is_idempotent() -> None:
    a = MemoryAnnouncer()
    a.announce("198.51.100.1")
    a.announce("198.51.100.1")
    a.withdraw("198.51.100.7")
    a.withdraw_all()
    a.withdraw_all()
    assert a.log == [("announce", "198.51.100.1"), ("withdraw", "198.51.100.1")]
    assert a.announced() == frozenset()
