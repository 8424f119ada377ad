"""Refuse only what keepalived refuses: each line keepalived 2.2 ignores, corrects or
defaults is imported the way keepalived runs it, with a note saying so, and keepalived's
own `keepalived -t` is asked about the same text (issue 13, build 1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lvstui.config.keepalived import ImportResult, import_keepalived_text
from lvstui.config.schema import LbKind, VrrpState
from lvstui.config.syncweights import as_run, ignored_weights
from tests.config.kaimport import keepalived_t

INSTANCE = """\
vrrp_instance VI_1 {{
  state {state}
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
{extra}  virtual_ipaddress {{
    {vip}
  }}
}}
"""


def instance(extra: str = "", state: str = "BACKUP", vip: str = "192.0.2.10/24") -> str:
    return INSTANCE.format(extra=extra, state=state, vip=vip)


def service(
    header: str = "192.0.2.10 80", rs_port: str = "80", body: str = "", lb_kind: str = "NAT"
) -> str:
    return f"""\
virtual_server {header} {{
  delay_loop 10
  lb_algo rr
  lb_kind {lb_kind}
  protocol TCP
{body}  real_server 198.51.100.20 {rs_port} {{
    weight 1
  }}
}}
"""


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    keepalived_says: str  # "": keepalived -t is silent and exits 0
    check: Callable[[ImportResult], None]


def _notes(r: ImportResult) -> str:
    return "\n".join(n.message for n in r.notes)


def _local_recipient(r: ImportResult) -> None:
    assert r.config.global_defs.notification_email == ("acassen", "ops@example.com")


def _brd_words(r: ImportResult) -> None:
    a, b = r.config.vrrp_instances[0].virtual_ipaddress
    assert (a.address, a.prefixlen, a.broadcast, a.dev) == ("192.0.2.10", 24, "192.0.2.255", "eth0")
    assert (b.address, b.broadcast) == ("192.0.2.11", "192.0.2.0")
    assert "`brd +` written as brd 192.0.2.255" in _notes(r)


def _port_zero(r: ImportResult) -> None:
    (vs,) = r.config.virtual_servers
    assert vs.real_servers[0].port == 80
    assert vs.sorry_server is not None and vs.sorry_server.port == 80
    assert _notes(r).count("port 0 means the service's port in keepalived") == 2


def _macros(r: ImportResult) -> None:
    (inst,) = r.config.vrrp_instances
    assert inst.interface == "eth0" and inst.virtual_router_id == 51
    assert [v.address for v in inst.virtual_ipaddress] == ["192.0.2.10"]
    (vs,) = r.config.virtual_servers
    assert (vs.ip, vs.port, [rs.ip for rs in vs.real_servers]) == (
        "192.0.2.10",
        80,
        ["198.51.100.20"],
    )


def _unicast_prefix(r: ImportResult) -> None:
    (inst,) = r.config.vrrp_instances
    assert inst.unicast_src_ip == "192.0.2.1"
    assert inst.unicast_peer == ("192.0.2.2",)
    assert "ignores the prefix length of unicast_src_ip 192.0.2.1/24" in _notes(r)
    assert "ignores the prefix length of unicast peer 192.0.2.2/24" in _notes(r)


def _old_sync_group(r: ImportResult) -> None:
    assert r.config.vrrp_sync_groups == ()
    assert "removes this sync group, so does the import" in _notes(r)


def _lower_lb_kind(r: ImportResult) -> None:
    assert r.config.virtual_servers[0].lb_kind is LbKind.NAT
    assert "runs this as NAT; so does the import; write DR if that is meant" in _notes(r)


def _extra_words(r: ImportResult) -> None:
    (vs,) = r.config.virtual_servers
    assert (vs.ip, vs.port) == ("192.0.2.10", 80)
    assert "ignores the words after it (extra words)" in _notes(r)


def _master_nopreempt(r: ImportResult) -> None:
    (inst,) = r.config.vrrp_instances
    assert (inst.state, inst.nopreempt) == (VrrpState.MASTER, False)
    assert "nopreempt does not work with initial state MASTER" in _notes(r)


def _lower_state(r: ImportResult) -> None:
    assert r.config.vrrp_instances[0].state is VrrpState.BACKUP
    assert "runs 'master' as BACKUP" in _notes(r)


def _lvs_timeouts(r: ImportResult) -> None:
    t = r.config.global_defs.lvs_timeouts
    assert t is not None and (t.tcp, t.tcpfin, t.udp) == (7200, None, 45)
    assert not r.notes


def _track_process(r: ImportResult) -> None:
    web, py = r.config.vrrp_track_processes
    assert (web.process, web.weight, web.fork_delay, web.terminate_delay) == (
        "nginx",
        -60,
        0.5,
        0.5,
    )
    assert (py.process, py.params, py.param_match, py.full_command) == (
        "/usr/bin/python3",
        ("-m", "http.server"),
        "initial",
        True,
    )
    (inst,) = r.config.vrrp_instances
    assert inst.track_process == ("web", "py")
    assert [(w.name, w.weight, w.reverse) for w in inst.track_process_weight] == [("py", 10, True)]
    assert not r.notes


def _track_file(r: ImportResult) -> None:
    a, b = r.config.track_files
    assert (a.name, a.file, a.weight, a.init_file, a.init_overwrite) == (
        "tf_a",
        "/run/agent/a",
        -2,
        5,
        True,
    )
    assert (b.name, b.weight, b.reverse) == ("tf_b", 1, False)  # vrrp_track_file: a synonym
    (inst,) = r.config.vrrp_instances
    assert inst.track_file == ("tf_a", "tf_b")
    assert [(w.name, w.weight, w.reverse) for w in inst.track_file_weight] == [("tf_b", 3, True)]
    assert not r.notes


def _track_file_sync(r: ImportResult) -> None:
    # kept in the TOML as written; run (and named by check-config) as keepalived runs it
    assert ignored_weights(r.config) == [("VI_1", "track_file", "tf_a", "G")]
    assert [i.track_file for i in as_run(r.config).vrrp_instances] == [("tf_b",), ()]


def _preempt_init_fail(r: ImportResult) -> None:
    (inst,) = r.config.vrrp_instances
    assert inst.nopreempt is False and inst.track_script == ("chk",)
    # keepalived's track_script resets the script's init state: init_fail has no effect
    assert [sc.init_fail for sc in r.config.vrrp_scripts] == [False]
    assert "does not apply it to a tracked script" in _notes(r)
    assert "Unknown keyword" in _notes(r) or "does not know `garp_master_delay`" in _notes(r)
    assert "not supported" not in _notes(r)


def _lvs_flush(r: ImportResult) -> None:
    gd = r.config.global_defs
    assert (gd.lvs_flush, gd.lvs_flush_on_stop) == (True, "full") and not r.notes


def _lvs_flush_onstop_vs(r: ImportResult) -> None:
    assert r.config.global_defs.lvs_flush_on_stop == "vs"
    assert "older spelling" in _notes(r)


def _startup_delay(r: ImportResult) -> None:
    assert r.config.global_defs.vrrp_startup_delay == 2.5 and not r.notes


def _min_garp(r: ImportResult) -> None:
    (inst,) = r.config.vrrp_instances
    assert (inst.garp_master_repeat, inst.garp_master_delay, inst.garp_master_refresh) == (
        1,
        0.0,
        0.0,
    )


CASES = [
    Case(
        "vrrp_min_garp",
        "global_defs {\n  vrrp_min_garp true\n}\n" + instance(),
        "",
        _min_garp,
    ),
    Case(
        "vrrp_track_process and track_process weights",
        "vrrp_track_process web {\n  process nginx\n  weight -60\n  delay 0.5\n}\n"
        "vrrp_track_process py {\n  process /usr/bin/python3 -m http.server\n"
        "  param_match initial\n}\n"
        + instance("  track_process {\n    web\n    py weight 10 reverse\n  }\n"),
        "",
        _track_process,
    ),
    Case(
        "track_file, vrrp_track_file and an instance's track_file weights",
        "track_file tf_a {\n  file /run/agent/a\n  weight -2\n  init_file 5 overwrite\n}\n"
        'vrrp_track_file tf_b {\n  file "/run/agent/b"\n}\n'
        + instance("  track_file {\n    tf_a\n    tf_b weight 3 reverse\n  }\n"),
        "",
        _track_file,
    ),
    Case(
        "a weighted track_file in a sync group",
        "track_file tf_a {\n  file /run/agent/a\n  weight -2\n}\n"
        "track_file tf_b {\n  file /run/agent/b\n  weight 0\n}\n"
        + instance("  track_file {\n    tf_a\n    tf_b\n  }\n")
        + instance().replace("VI_1", "VI_2").replace("51", "52").replace(".10/", ".11/")
        + "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n}\n",
        "(VI_1) ignoring tracked file tf_a with weight -2 due to SYNC group",
        _track_file_sync,
    ),
    Case(
        "preempt after nopreempt, init_fail, garp_master_delay without vrrp_",
        "global_defs {\n  garp_master_delay 5\n  enable_script_security\n"
        "  script_user root\n}\n"
        "vrrp_script chk {\n  script /bin/true\n  init_fail\n}\n"
        + instance("  nopreempt\n  preempt\n  track_script {\n    chk\n  }\n"),
        "Unknown keyword 'garp_master_delay'",
        _preempt_init_fail,
    ),
    Case(
        "lvs_flush, lvs_flush_on_stop",
        "global_defs {\n  lvs_flush\n  lvs_flush_on_stop\n}\n" + instance(),
        "",
        _lvs_flush,
    ),
    Case(
        "lvs_flush_onstop VS (the old spelling)",
        "global_defs {\n  lvs_flush_onstop VS\n}\n" + instance(),
        "",
        _lvs_flush_onstop_vs,
    ),
    Case(
        "vrrp_startup_delay",
        "global_defs {\n  vrrp_startup_delay 2.5\n}\n" + instance(),
        "",
        _startup_delay,
    ),
    Case(
        "lvs_timeouts (ipvsadm --set)",
        "global_defs {\n  lvs_timeouts tcp 7200 udp 45\n}\n" + instance(),
        "",
        _lvs_timeouts,
    ),
    Case(
        "notification_email without a domain",
        "global_defs {\n  notification_email {\n    acassen\n    ops@example.com\n  }\n}\n"
        + instance(),
        "",
        _local_recipient,
    ),
    Case(
        "iproute2 words in virtual_ipaddress",
        INSTANCE.format(
            state="BACKUP",
            extra="",
            vip="192.0.2.10/24 brd + dev eth0 scope global\n    192.0.2.11/24 broadcast - dev eth0",
        ),
        "",
        _brd_words,
    ),
    Case(
        "port 0 on a real and a sorry server",
        instance() + service(rs_port="0", body="  sorry_server 198.51.100.30 0\n"),
        "",
        _port_zero,
    ),
    Case(
        "$NAME=value macros, block headers included",
        "$IF=eth0\n$VIP=192.0.2.10\n$RS=real_server 198.51.100.20 80 {\n"
        + INSTANCE.format(state="BACKUP", extra="", vip="${VIP}/24").replace("eth0", "$IF")
        + "virtual_server $VIP 80 {\n  delay_loop 10\n  lb_algo rr\n  lb_kind NAT\n"
        "  protocol TCP\n"
        "  $RS\n    weight 1\n  }\n}\n",
        "",
        _macros,
    ),
    Case(
        "unicast addresses with a prefix length",
        instance("  unicast_src_ip 192.0.2.1/24\n  unicast_peer {\n    192.0.2.2/24\n  }\n"),
        "",
        _unicast_prefix,
    ),
    Case(
        "vrrp_sync_group without group {}",
        "vrrp_sync_group VG1 {\n  VI_1\n}\n" + instance(),
        "Sync group VG1 has no virtual router(s). removing",
        _old_sync_group,
    ),
    Case(
        "lb_kind in lower case",
        instance() + service(lb_kind="dr"),
        "unknown [dr] routing method",
        _lower_lb_kind,
    ),
    Case(
        "extra words after virtual_server IP PORT",
        instance() + service(header="192.0.2.10 80 extra words"),
        "",
        _extra_words,
    ),
    Case(
        "state MASTER with nopreempt",
        instance("  nopreempt\n", state="MASTER"),
        "nopreempt will not work with initial state MASTER - clearing",
        _master_nopreempt,
    ),
    Case(
        "state in lower case",
        instance(state="master"),
        "unknown state 'master', defaulting to BACKUP",
        _lower_state,
    ),
]
IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_imported_as_keepalived_runs_it(case: Case) -> None:
    case.check(import_keepalived_text(case.text, "parity.conf", "lb0"))


@pytest.mark.keepalived
@pytest.mark.root
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_keepalived_runs_it(case: Case, tmp_path: Path, interfaces_netns: str) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(case.text)
    proc = keepalived_t(interfaces_netns, str(conf))
    if not case.keepalived_says:
        assert (proc.returncode, proc.stderr) == (0, "")
    else:
        assert proc.returncode == 5, proc.stderr  # warnings: it runs the file
        assert case.keepalived_says in proc.stderr


def test_parameters_that_double_at_every_step_are_an_error_not_a_hang() -> None:
    from lvstui.errors import ConfigError

    lines = ["$P0=x"] + [f"$P{i}=$P{i - 1} $P{i - 1}" for i in range(1, 40)]
    with pytest.raises(ConfigError, match="parameters expand this line past 64 KiB"):
        import_keepalived_text("\n".join(lines) + "\n", "p.conf", "lb0")
    # a parameter that names itself is left as written once it stops changing
    r = import_keepalived_text("$A=$A\nglobal_defs {\n  router_id $A\n}\n", "p.conf", "lb0")
    assert r.config.global_defs.router_id == "$A"
