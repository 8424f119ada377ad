"""effective_weight: table-driven."""

from __future__ import annotations

import pytest

from lvstui.health.weight import effective_weight
from lvstui.model import Health

U, D, X = Health.UP, Health.DOWN, Health.UNKNOWN


@pytest.mark.parametrize(
    ("config", "health", "dynamic", "inhibit", "override", "drained", "expected"),
    [
        (5, U, None, False, None, False, 5),  # plain
        (5, X, None, False, None, False, 5),  # not checked yet, no alpha: in service
        (5, D, None, False, None, False, None),  # down: removed from the table
        (5, D, None, True, None, False, 0),  # inhibit_on_failure: kept at 0
        (5, D, 8, True, 3, True, 0),  # down wins over everything
        (5, D, 8, False, 3, True, None),
        (5, U, 8, False, None, False, 8),  # misc_dynamic (exit 10)
        (5, U, 0, False, None, False, 0),  # misc_dynamic exit 2: weight 0
        (5, U, 8, False, 3, False, 3),  # operator override beats misc_dynamic
        (5, U, 8, False, 3, True, 0),  # drained: 0, whatever the rest
        (5, U, None, False, -1, False, 0),  # never negative
        (0, U, None, False, None, False, 0),  # configured 0 stays 0 (quiesced)
    ],
)
def test_effective_weight(
    config: int,
    health: Health,
    dynamic: int | None,
    inhibit: bool,
    override: int | None,
    drained: bool,
    expected: int | None,
) -> None:
    assert effective_weight(config, health, dynamic, inhibit, override, drained) == expected
