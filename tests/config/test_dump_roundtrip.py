"""dump is the inverse of load: a property over generated configs, plus the example."""

from __future__ import annotations

from dataclasses import replace

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lvstui.config.dump import to_toml_dict
from lvstui.config.load import load_config, load_config_text, sort_checks
from lvstui.config.locate import Locator
from lvstui.config.schema import (
    KERNEL_SCHEDULERS,
    SCHEDULER_FLAGS,
    USERSPACE_SCHEDULERS,
    AuthType,
    Check,
    CheckCommon,
    Config,
    DataplaneKind,
    GlobalDefs,
    HttpCheck,
    HttpUrl,
    LbKind,
    LvstuiSettings,
    MiscCheck,
    PingCheck,
    Protocol,
    RealServer,
    SorryServer,
    StatusRange,
    SyncDaemon,
    TcpCheck,
    VipAddress,
    VirtualServer,
    VrrpInstance,
    VrrpScript,
    VrrpState,
    VrrpSyncGroup,
)
from tests.helpers import REPO

names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
words = st.from_regex(r"[a-zA-Z0-9_./-]{1,12}", fullmatch=True)
commands = st.lists(words, min_size=1, max_size=3).map(" ".join)
seconds = st.one_of(st.integers(1, 600).map(float), st.floats(0.01, 600, allow_nan=False))
maybe = st.none
ipv4 = st.integers(1, 254).map(lambda i: f"192.0.2.{i}")
ipv6 = st.integers(1, 0xFFFF).map(lambda i: f"2001:db8::{i:x}")


def opt(s: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.none(), s)


@st.composite
def common(draw: st.DrawFn) -> CheckCommon:
    return CheckCommon(
        connect_ip=draw(opt(ipv4)),  # type: ignore[arg-type]
        connect_port=draw(opt(st.integers(1, 65535))),  # type: ignore[arg-type]
        connect_timeout=draw(seconds),
        bindto=draw(opt(ipv4)),  # type: ignore[arg-type]
        bind_port=draw(opt(st.integers(1, 65535))),  # type: ignore[arg-type]
        retry=draw(st.integers(0, 5)),
        delay_before_retry=draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])),
        warmup=draw(opt(st.sampled_from([0.0, 2.5, 10.0]))),  # type: ignore[arg-type]
        delay_loop=draw(opt(seconds)),  # type: ignore[arg-type]
        rise=draw(st.integers(1, 5)),
        fall=draw(st.integers(1, 5)),
    )


status = st.lists(
    st.tuples(st.integers(100, 599), st.integers(0, 50)).map(
        lambda t: StatusRange(t[0], min(599, t[0] + t[1]))
    ),
    min_size=1,
    max_size=3,
).map(tuple)


@st.composite
def check(draw: st.DrawFn) -> Check:
    kind = draw(st.sampled_from(["tcp", "ping", "http", "ssl", "misc"]))
    c = draw(common())
    if kind == "tcp":
        return TcpCheck(common=c)
    if kind == "ping":
        return PingCheck(common=replace(c, connect_port=None, bind_port=None))
    if kind == "misc":
        return MiscCheck(
            misc_path=draw(commands),
            misc_timeout=draw(opt(seconds)),  # type: ignore[arg-type]
            misc_dynamic=draw(st.booleans()),
            user=draw(opt(names)),  # type: ignore[arg-type]
            common=replace(
                c,
                connect_ip=None,
                connect_port=None,
                bindto=None,
                bind_port=None,
                connect_timeout=CheckCommon().connect_timeout,
            ),
        )
    tls = kind == "ssl"
    urls = draw(
        st.lists(
            st.builds(
                HttpUrl,
                path=names.map(lambda n: "/" + n),
                digest=opt(st.from_regex(r"[0-9a-f]{32}", fullmatch=True)),
                status_code=status,
                virtualhost=opt(names),
            ),
            min_size=1,
            max_size=2,
        )
    )
    return HttpCheck(
        urls=tuple(urls),
        common=c,
        tls=tls,
        virtualhost=draw(opt(names)),  # type: ignore[arg-type]
        verify=draw(st.booleans()) if tls else False,
        sni=draw(opt(names)) if tls else None,  # type: ignore[arg-type]
        body_limit=draw(st.integers(1, 1 << 20)),
    )


@st.composite
def virtual_server(draw: st.DrawFn, algos: frozenset[str]) -> VirtualServer:
    fw = draw(st.booleans())
    protocol = draw(st.sampled_from(list(Protocol)))
    algo = draw(st.sampled_from(sorted(algos)))
    flags = {f for f, owners in SCHEDULER_FLAGS.items() if algo in owners and draw(st.booleans())}
    if protocol is Protocol.UDP and draw(st.booleans()):
        flags.add("ops")
    lb_kind = draw(st.sampled_from(list(LbKind)))
    # real and sorry servers are of the service's family (the loader refuses the other
    # one unless tunnelling)
    family = draw(st.sampled_from([4, 6])) if fw else 4
    ip = None if fw else draw(ipv4)
    port = 0 if fw else draw(st.integers(1, 65535))
    n = draw(st.integers(0, 3))
    ips = draw(st.lists(st.integers(1, 254), min_size=n, max_size=n, unique=True))
    reals = []
    for i in ips:
        rs_kind = draw(opt(st.sampled_from(list(LbKind))))
        kind = rs_kind or lb_kind
        rs_port = port if (kind is not LbKind.NAT or fw) else draw(st.integers(1, 65535))
        if fw:
            rs_port = draw(st.integers(0, 65535))
        reals.append(
            RealServer(
                ip=f"198.51.100.{i}" if family == 4 else f"2001:db8::{i:x}",
                port=rs_port,
                weight=draw(st.integers(0, 65535)),
                lb_kind=rs_kind,  # type: ignore[arg-type]
                inhibit_on_failure=draw(opt(st.booleans())),  # type: ignore[arg-type]
                notify_up=draw(opt(commands)),  # type: ignore[arg-type]
                notify_down=draw(opt(commands)),  # type: ignore[arg-type]
                smtp_alert=draw(opt(st.booleans())),  # type: ignore[arg-type]
                uthreshold=draw(st.integers(0, 1000)),
                lthreshold=draw(st.integers(0, 1000)),
                checks=sort_checks(draw(st.lists(check(), max_size=3))),
            )
        )
    sorry = None
    if draw(st.booleans()):
        sorry_kind = draw(opt(st.sampled_from([LbKind.NAT])))
        same = (sorry_kind or lb_kind) is not LbKind.NAT and not fw
        sorry = SorryServer(
            ip=draw(ipv4) if family == 4 else "2001:db8::5",
            # port 0 ("the packet's port") only where the service has no single port
            port=port if same else draw(st.integers(0 if fw else 1, 65535)),
            lb_kind=sorry_kind,  # type: ignore[arg-type]
            inhibit_on_failure=draw(st.booleans()),
        )
    return VirtualServer(
        ip=ip,
        port=port,
        protocol=protocol,
        fwmark=draw(st.integers(1, 2**32 - 1)) if fw else None,
        family=family,
        delay_loop=draw(seconds),
        lb_algo=algo,
        lb_flags=frozenset(flags),
        lb_kind=lb_kind,
        persistence_timeout=draw(opt(st.integers(1, 100000))),  # type: ignore[arg-type]
        persistence_granularity=draw(opt(st.sampled_from(["255.255.255.0", "/24"]))),  # type: ignore[arg-type]
        virtualhost=draw(opt(names)),  # type: ignore[arg-type]
        quorum=draw(st.integers(0, 100)),
        hysteresis=draw(st.integers(0, 10)),
        quorum_up=draw(opt(commands)),  # type: ignore[arg-type]
        quorum_down=draw(opt(commands)),  # type: ignore[arg-type]
        sorry_server=sorry,
        inhibit_on_failure=draw(st.booleans()),
        alpha=draw(st.booleans()),
        omega=draw(st.booleans()),
        ha_suspend=draw(st.booleans()),
        smtp_alert=draw(opt(st.booleans())),  # type: ignore[arg-type]
        name=draw(opt(names)),  # type: ignore[arg-type]
        proxy_protocol=draw(st.integers(0, 2)),
        app_hash=draw(st.booleans()),
        udp_idle_timeout=draw(seconds),
        real_servers=tuple(reals),
    )


@st.composite
def configs(draw: st.DrawFn) -> Config:
    dataplane = draw(st.sampled_from(list(DataplaneKind)))
    algos = {
        DataplaneKind.IPVS: KERNEL_SCHEDULERS,
        DataplaneKind.USERSPACE: USERSPACE_SCHEDULERS,
        DataplaneKind.AUTO: KERNEL_SCHEDULERS | USERSPACE_SCHEDULERS,
    }[dataplane]
    version = draw(st.sampled_from([2, 3]))
    script_names = draw(st.lists(names, max_size=2, unique=True))
    scripts = tuple(
        VrrpScript(
            name=n,
            script=draw(commands),
            interval=draw(seconds),
            timeout=draw(opt(seconds)),  # type: ignore[arg-type]
            weight=draw(st.integers(-253, 253)),
            rise=draw(st.integers(1, 5)),
            fall=draw(st.integers(1, 5)),
            user=draw(opt(names)),  # type: ignore[arg-type]
        )
        for n in script_names
    )
    inst_names = draw(st.lists(names, max_size=3, unique=True))
    instances = []
    for n in inst_names:
        v = draw(st.sampled_from([2, 3]))
        advert = float(draw(st.integers(1, 255))) if v == 2 else draw(st.integers(1, 4095)) / 100
        auth = draw(opt(st.sampled_from(list(AuthType)))) if v == 2 else None
        family = 6 if v == 3 and draw(st.booleans()) else 4
        vips = draw(
            st.lists(
                st.builds(
                    VipAddress,
                    address=ipv6 if family == 6 else ipv4,
                    prefixlen=st.just(-1),
                    dev=opt(names),
                    label=opt(names),
                    scope=opt(st.sampled_from(["global", "link", "host"])),
                    broadcast=opt(ipv4),
                ),
                max_size=3,
            )
        )
        vips = [
            replace(x, prefixlen=draw(st.integers(0, 32 if x.family == 4 else 128))) for x in vips
        ]
        instances.append(
            VrrpInstance(
                name=n,
                interface=draw(names),
                virtual_router_id=draw(st.integers(1, 255)),
                state=draw(st.sampled_from(list(VrrpState))),
                priority=draw(st.integers(1, 255)),
                advert_int=advert,
                version=v,
                auth_type=auth,  # type: ignore[arg-type]
                auth_pass=draw(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)) if auth else "",
                virtual_ipaddress=tuple(vips),
                nopreempt=draw(st.booleans()),
                preempt_delay=draw(st.sampled_from([0.0, 5.0, 30.5])),
                unicast_src_ip=draw(opt(ipv4)),  # type: ignore[arg-type]
                unicast_peer=tuple(draw(st.lists(ipv4, max_size=2))),
                track_interface=tuple(draw(st.lists(names, max_size=2))),
                track_script=tuple(draw(st.lists(st.sampled_from(script_names), max_size=2)))
                if script_names
                else (),
                notify_master=draw(opt(commands)),  # type: ignore[arg-type]
                notify=draw(opt(commands)),  # type: ignore[arg-type]
                smtp_alert=draw(opt(st.booleans())),  # type: ignore[arg-type]
                garp_master_delay=draw(st.sampled_from([0.0, 5.0, 2.5])),
                garp_master_repeat=draw(st.integers(0, 10)),
                garp_master_refresh=draw(st.sampled_from([0.0, 60.0])),
                garp_master_refresh_repeat=draw(st.integers(1, 3)),
            )
        )
    groups = []
    if len(inst_names) >= 2 and draw(st.booleans()):
        groups.append(VrrpSyncGroup(name="g", group=tuple(inst_names[:2]), smtp_alert=True))
    sync = None
    if inst_names and draw(st.booleans()):
        sync = SyncDaemon(
            interface="eth0", instance=inst_names[0], syncid=draw(st.integers(0, 255))
        )
    vss = draw(st.lists(virtual_server(algos), max_size=3))
    unique: dict[object, VirtualServer] = {}
    for vs in vss:
        ident = (vs.fwmark, vs.family) if vs.fwmark else (vs.protocol, vs.ip, vs.port)
        unique.setdefault(ident, vs)
    return Config(
        path="gen.toml",
        global_defs=GlobalDefs(
            router_id=draw(st.one_of(st.just(""), names)),
            notification_email=tuple(
                draw(st.lists(names.map(lambda n: n + "@example.com"), max_size=2))
            ),
            notification_email_from=draw(st.sampled_from(["", "lvs@example.com"])),
            smtp_server=draw(st.sampled_from(["", "relay.example.com", "2001:db8::25"])),
            smtp_port=draw(st.sampled_from([25, 587])),
            smtp_connect_timeout=draw(seconds),
            smtp_alert=draw(st.booleans()),
            vrrp_version=version,
            lvs_sync_daemon=sync,
        ),
        lvstui=LvstuiSettings(
            dataplane=dataplane,
            control_group=draw(st.sampled_from(["", "lvsops"])),
            directors=draw(st.integers(1, 4)),
            keys=tuple(
                draw(st.dictionaries(names, st.sampled_from(["d", "ctrl+d"]), max_size=2)).items()
            ),
            drain_timeout=draw(st.sampled_from([0.0, 30.0])),
        ),
        vrrp_scripts=scripts,
        vrrp_sync_groups=tuple(groups),
        vrrp_instances=tuple(instances),
        virtual_servers=tuple(unique.values()),
    )


def _fix_smtp(c: Config) -> Config:
    # an empty smtp_server has no port to keep
    if not c.global_defs.smtp_server:
        return replace(c, global_defs=replace(c.global_defs, smtp_port=25))
    return c


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_dump_then_load_is_identity(cfg: Config) -> None:
    cfg = _fix_smtp(cfg)
    text = tomli_w.dumps(to_toml_dict(cfg))
    assert load_config_text(text, cfg.path) == cfg


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_locator_finds_every_dumped_key(cfg: Config) -> None:
    """Every key path in a dumped file maps to a line that names that key."""
    data = to_toml_dict(_fix_smtp(cfg))
    text = tomli_w.dumps(data)
    loc = Locator(text)
    lines = text.splitlines()

    def walk(value: object, path: tuple[str | int, ...]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                line = loc.line_of((*path, k))
                assert line is not None, (*path, k)
                shown = lines[line - 1]
                assert k in shown or shown.lstrip().startswith("{"), (path, k, shown)
                walk(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                assert loc.line_of((*path, i)) is not None
                walk(v, (*path, i))

    walk(data, ())


def test_example_round_trips() -> None:
    cfg = load_config(REPO / "config.toml.example")
    again = load_config_text(tomli_w.dumps(to_toml_dict(cfg)), cfg.path)
    assert again == cfg


def test_defaults_are_left_out() -> None:
    cfg = load_config_text('[[virtual_server]]\nip = "192.0.2.9"\nport = 80\n')
    assert to_toml_dict(cfg) == {"virtual_server": [{"ip": "192.0.2.9", "port": 80}]}
    assert to_toml_dict(Config()) == {}
