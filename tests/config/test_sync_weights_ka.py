"""keepalived -t on the sync group weight rule (the rest: tests/vrrp/test_sync_weights.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.kaimport import keepalived_t
from tests.vrrp.test_sync_weights import KA

pytestmark = [pytest.mark.keepalived, pytest.mark.netns]


def test_keepalived_ignores_the_same_weights(tmp_path: Path, interfaces_netns: str) -> None:
    """keepalived -t names the weights it ignores in a sync group: the two that
    config/syncweights.py drops, and none with sync_group_tracking_weight."""
    path = tmp_path / "k.conf"
    for extra, want in (("", 2), ("    sync_group_tracking_weight\n", 0)):
        path.write_text(KA % extra)
        r = keepalived_t(interfaces_netns, str(path))
        said = r.stdout + r.stderr
        assert said.count("due to SYNC group") == want, said
        if want:
            assert "ignoring eth1 tracked interface weight" in said
            assert "ignoring tracked script chk with weights" in said
