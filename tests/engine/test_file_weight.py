"""A FILE_CHECK's weight reaches the plan (as misc_dynamic's does); a switch (weight 0) not."""

from __future__ import annotations

from lvstui.config.schema import FileCheck, RealServer, VirtualServer
from lvstui.config.state import Overrides
from lvstui.engine.desired import RealHealth, plan_reals
from lvstui.model import Health, RealKey, ServiceKey


def test_file_check_weight_is_the_planned_weight() -> None:
    weighted = FileCheck(track_file="t", file="/run/x", weight=2)
    switch = FileCheck(track_file="t", file="/run/x", weight=0)
    vs = VirtualServer(
        "203.0.113.1",
        80,
        real_servers=(
            RealServer("198.51.100.1", 80, weight=10, checks=(weighted,)),
            RealServer("198.51.100.2", 80, weight=10, checks=(switch,)),
        ),
    )
    sk = ServiceKey.parse("TCP 203.0.113.1:80")
    health = {
        (sk, RealKey("198.51.100.1", 80)): RealHealth(Health.UP, 16),
        (sk, RealKey("198.51.100.2", 80)): RealHealth(Health.UP, 16),
    }
    a, b = plan_reals(vs, Overrides(), health)
    assert (a.weight, b.weight) == (16, 10)
