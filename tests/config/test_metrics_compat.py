"""`[lvstui] metrics_compat`: the exporters named, in order, once; anything else refused."""

from __future__ import annotations

import pytest

from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.config.schema import MetricsCompat


def _load(lines: str) -> object:
    return load_config_text(f"[lvstui]\n{lines}\n").lvstui.metrics_compat


def test_known_exporters_in_order_once() -> None:
    got = _load(
        'metrics_listen = "127.0.0.1:9336"\n'
        'metrics_compat = ["keepalived", "node_exporter", "keepalived"]'
    )
    assert got == (MetricsCompat.KEEPALIVED, MetricsCompat.NODE_EXPORTER)
    assert _load('metrics_listen = "127.0.0.1:9336"') == ()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('metrics_listen = "127.0.0.1:1"\nmetrics_compat = ["haproxy"]', "unknown exporter"),
        ('metrics_compat = ["node_exporter"]', "without metrics_listen"),
        ('metrics_listen = "127.0.0.1:1"\nmetrics_compat = [3]', "expected a string"),
    ],
)
def test_bad_values_are_refused(lines: str, message: str) -> None:
    with pytest.raises(ConfigErrors) as info:
        _load(lines)
    (err,) = info.value.errors
    assert message in str(err)
    assert err.key is not None and err.key.startswith("lvstui.metrics_compat")
