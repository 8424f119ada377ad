"""lvs_flush / lvs_flush_on_stop with the userspace dataplane: accepted (a keepalived.conf
imports them) but they do nothing there, so check-config says so."""

from __future__ import annotations

from tests.config.test_lint import _with_dataplane, warnings


def test_lvs_flush_on_the_userspace_dataplane_is_a_warning() -> None:
    flush = 'lvs_flush = true\nlvs_flush_on_stop = "full"\n'
    text = "[global_defs]\n" + flush + _with_dataplane("userspace", "")
    found = {f.key: f.message for f in warnings(text) if f.topic == "ipvs-only"}
    assert sorted(found) == ["global_defs.lvs_flush", "global_defs.lvs_flush_on_stop"]
    assert all("userspace dataplane ignores it" in m for m in found.values())
    assert not [f for f in warnings(text.replace("userspace", "ipvs")) if f.topic == "ipvs-only"]
