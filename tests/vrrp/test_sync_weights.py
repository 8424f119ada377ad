"""keepalived's rule for tracking weights in a vrrp_sync_group (config/syncweights.py): the
import, the config, check-config, and a running group, compared with `keepalived -t`."""

from __future__ import annotations

from lvstui.config.keepalived.importer import import_keepalived_text
from lvstui.config.lint import lint
from lvstui.config.schema import Config, TrackWeight, VrrpScript, VrrpSyncGroup
from lvstui.config.syncweights import as_run, ignored_weights
from lvstui.model import VrrpRunState as S
from tests.vrrp.test_node import Director, inst, lan, run_for, until

__all__ = ["lan"]  # the fixture, imported for pytest

KA = """\
vrrp_script chk {
    script /bin/true
    weight 10
}
vrrp_script plain {
    script /bin/true
}
vrrp_sync_group G {
    group {
        VI_1
    }
%s}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    track_script {
        chk
        plain
    }
    track_interface {
        eth1 weight -10
    }
    virtual_ipaddress {
        198.51.100.9/24
    }
}
"""


def test_import_and_the_rule() -> None:
    for extra, kept in (("", False), ("    sync_group_tracking_weight\n", True)):
        res = import_keepalived_text(KA % extra, "k", config_id="x")
        (group,) = res.config.vrrp_sync_groups
        assert group.sync_group_tracking_weight is kept
        run = as_run(res.config).vrrp_instances[0]
        if kept:
            assert run == res.config.vrrp_instances[0] and not ignored_weights(res.config)
        else:
            assert run.track_script == ("plain",)  # the weighted one is not tracked
            assert run.track_interface_weight == (TrackWeight("eth1", 0),)  # down: FAULT
            assert ignored_weights(res.config) == [
                ("VI_1", "track_interface", "eth1", "G"),
                ("VI_1", "track_script", "chk", "G"),
            ]
            found = [f for f in lint(res.config) if f.topic == "sync-weight"]
            assert [f.key for f in found] == [
                "vrrp_instance.VI_1.track_interface",
                "vrrp_instance.VI_1.track_script",
            ]
    res = import_keepalived_text(KA % "    global_tracking\n", "k", config_id="x")
    assert res.config.vrrp_sync_groups[0].sync_group_tracking_weight
    assert "deprecated" in res.notes[0].message


async def test_a_member_ignores_a_script_weight(lan) -> None:
    """Without the option, a failing weight -60 script does not lower a member's priority."""
    hub, clock = lan
    sc = VrrpScript("chk", "sleep 600", interval=60.0, weight=-60, init_fail=True)
    for keep, prio in ((False, 150), (True, 90)):
        group = VrrpSyncGroup("G", ("VI_1",), sync_group_tracking_weight=keep)
        cfg = Config(
            vrrp_scripts=(sc,),
            vrrp_sync_groups=(group,),
            vrrp_instances=(inst(150, track_script=("chk",)),),
        )
        a = Director(hub, clock, "198.51.100.11", cfg)
        await a.group.start()
        try:
            await run_for(clock, 0.5)
            await until(clock, lambda d=a: d.state() is S.MASTER)
            assert a.group.nodes["VI_1"]._effective_priority() == prio
        finally:
            await a.group.stop()
