"""The configuration file as a reader sees it: every TOML table and key, with its type,
default and description, read from the schema (lvstui/config/schema.py) and its
descriptions (lvstui/config/keydoc.py). lvstui.toml(5) is printed from this
(`python -m lvstui.manpage`); a test holds it equal to the keys the loader accepts.

The schema's dataclasses are not laid out exactly like the file (a check's common settings
sit in one dataclass, `authentication` is a table of two instance fields, sub-tables are
tuples), so each table below names the dataclass fields it shows; everything else (type,
default, description) comes from the schema and keydoc.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass

from lvstui.config.keydoc import KEY_DOCS
from lvstui.config.schema import (
    AnnounceSettings,
    BfdCheck,
    CheckCommon,
    DnsCheck,
    FileCheck,
    GlobalDefs,
    GroupSettings,
    HttpCheck,
    HttpUrl,
    LvsTimeouts,
    LvstuiSettings,
    MiscCheck,
    RealServer,
    SmtpCheck,
    SorryServer,
    StatusRange,
    SyncDaemon,
    TrackFile,
    UdpCheck,
    VipAddress,
    VirtualServer,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
    VrrpTrackProcess,
)

__all__ = ["KeyRef", "MissingDescription", "TableRef", "header", "tables"]


@dataclass(frozen=True, slots=True)
class KeyRef:
    name: str
    type: str  # in TOML's words: string, integer, number, boolean, list of strings, table...
    default: str | None  # as written in TOML; None: no default (required, or unset)
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class TableRef:
    path: str  # "vrrp_instance.NAME", "virtual_server[].real_server[]" ([] = array of tables)
    about: str
    keys: tuple[KeyRef, ...]


class MissingDescription(LookupError):
    """A schema field shown in the file has no line in keydoc.KEY_DOCS."""


# (dataclass, the fields of it this table shows; None: all but those in _INTERNAL)
_Part = tuple[type, tuple[str, ...] | None]
# schema fields that are not keys of the file (names from the table header, derived values,
# sub-tables shown as tables of their own)
_INTERNAL: dict[type, frozenset[str]] = {
    GlobalDefs: frozenset({"smtp_port"}),  # from smtp_server's host:port
    VrrpScript: frozenset({"name"}),
    VrrpTrackProcess: frozenset({"name"}),
    VrrpSyncGroup: frozenset({"name"}),
    # auth_*: in [.authentication]; *_weight: written in the track_* entries
    VrrpInstance: frozenset(
        {
            "name",
            "auth_type",
            "auth_pass",
            "track_interface_weight",
            "track_script_weight",
            "track_process_weight",
            "track_file_weight",
        }
    ),
    VipAddress: frozenset({"prefixlen"}),  # written in `address`
    HttpCheck: frozenset({"urls", "common", "tls"}),
    MiscCheck: frozenset({"common", "kind"}),
    RealServer: frozenset({"checks"}),
    VirtualServer: frozenset({"real_servers"}),
}
# types in the file's words where the dataclass holds the parsed form
_TYPES: dict[tuple[type, str], str] = {
    (LvstuiSettings, "keys"): "table",
    (LvstuiSettings, "group"): "table",
    (LvstuiSettings, "announce"): "table",
    (VrrpInstance, "virtual_ipaddress"): "list of strings or tables",
    (VrrpInstance, "virtual_ipaddress_excluded"): "list of strings or tables",
    (VrrpInstance, "virtual_routes"): "list of strings",
    (VrrpInstance, "use_vmac"): "boolean or string",
    (VrrpInstance, "virtual_rules"): "list of strings",
    (GlobalDefs, "static_ipaddress"): "list of strings or tables",
    (GlobalDefs, "static_routes"): "list of strings",
    (GlobalDefs, "static_rules"): "list of strings",
    (VirtualServer, "persistence_timeout"): "integer or true",
    (VirtualServer, "lb_flags"): "list of strings",
    (HttpUrl, "status_code"): "integer, string or list",
    (UdpCheck, "payload"): "string",
    (UdpCheck, "require_reply"): "boolean or string",
    (FileCheck, "weight"): "integer",
    (FileCheck, "reverse"): "boolean",
}
# no default shown: the value comes from elsewhere (the description says where)
_NO_DEFAULT = {
    (VrrpInstance, "version"),
    (VrrpInstance, "accept"),
    (VrrpInstance, "strict_mode"),
    (VrrpInstance, "skip_check_adv_addr"),
    (LvstuiSettings, "keys"),
    (LvstuiSettings, "group"),
    (LvstuiSettings, "announce"),
    (FileCheck, "weight"),  # the track_file's
    (FileCheck, "reverse"),
}
# no schema default, yet not required (the description says when it is needed)
_OPTIONAL = {
    (VirtualServer, "ip"),
    (VirtualServer, "port"),
    (RealServer, "port"),
    (SorryServer, "port"),
    (GroupSettings, "name"),
}

_CHECK_TAIL = ("retry", "delay_before_retry", "warmup", "delay_loop", "rise", "fall")
_CHECKS = (
    "http_get",
    "ssl_get",
    "tcp_check",
    "misc_check",
    "ping_check",
    "smtp_check",
    "dns_check",
    "udp_check",
    "file_check",
    "bfd_check",
)


def _sub(name: str, kind: str, what: str) -> KeyRef:
    return KeyRef(name, kind, None, False, what)


@dataclass(frozen=True, slots=True)
class _Table:
    path: str
    about: str
    parts: tuple[_Part, ...]
    extra: tuple[KeyRef, ...] = ()  # keys of the file only: its sub-tables


_SPEC = (
    _Table(
        "global_defs",
        "Settings that keepalived has in its global_defs block.",
        ((GlobalDefs, None),),
    ),
    _Table(
        "global_defs.lvs_sync_daemon",
        "The kernel's IPVS connection synchronisation (ipvsadm --start-daemon), following a "
        "VRRP instance.",
        ((SyncDaemon, None),),
    ),
    _Table(
        "global_defs.lvs_timeouts",
        "The kernel's IPVS connection timeouts (ipvsadm --set), set at start and on reload. "
        "The userspace dataplane ignores them (check-config warns).",
        ((LvsTimeouts, None),),
    ),
    _Table(
        "lvstui",
        "lvstui's own settings (keepalived has no equivalent).",
        ((LvstuiSettings, None),),
    ),
    _Table(
        "lvstui.keys",
        'Console key remapping: ACTION = "KEY" (Textual key names, or ?, /, :). An unknown '
        "action, or two actions on one key, is a configuration error.",
        (),
    ),
    _Table(
        "lvstui.group",
        "The director group: the directors of a site share drain, weight, add and remove "
        "overrides over mutual TLS, and compare their configurations (docs/group.md).",
        ((GroupSettings, None),),
    ),
    _Table(
        "lvstui.announce",
        "How VIPs reach the network: VRRP (one active director) or a route per VIP that the "
        "site's BIRD or FRR announces over BGP (several active directors, docs/bgp.md).",
        ((AnnounceSettings, None),),
    ),
    _Table(
        "vrrp_script.NAME",
        "A script whose result changes the priority of the VRRP instances that track it, or "
        "puts them in FAULT.",
        ((VrrpScript, None),),
    ),
    _Table(
        "vrrp_track_process.NAME",
        "Processes whose count (quorum) changes the priority of the VRRP instances that track "
        "them, or puts them in FAULT (keepalived's vrrp_track_process; /proc is read once a "
        "second).",
        ((VrrpTrackProcess, None),),
        (_sub("delay", "number", "sets fork_delay and terminate_delay"),),
    ),
    _Table(
        "track_file.NAME",
        "A file holding a number that an agent writes (keepalived's track_file), read by "
        "file_check and by the VRRP instances that track it (looked at once a second).",
        ((TrackFile, ("file", "weight", "reverse", "init_file", "init_overwrite")),),
    ),
    _Table(
        "vrrp_sync_group.NAME",
        "VRRP instances that change state together.",
        ((VrrpSyncGroup, None),),
    ),
    _Table(
        "vrrp_instance.NAME",
        "One VRRP virtual router: the VIPs it carries and how it elects the master.",
        ((VrrpInstance, None),),
        (_sub("authentication", "table", "see [vrrp_instance.NAME.authentication]"),),
    ),
    _Table(
        "vrrp_instance.NAME.authentication",
        "VRRPv2 authentication.",
        ((VrrpInstance, ("auth_type", "auth_pass")),),
    ),
    _Table(
        "vrrp_instance.NAME.virtual_ipaddress[]",
        "An entry of virtual_ipaddress or virtual_ipaddress_excluded written as a table "
        "instead of a string.",
        ((VipAddress, None),),
    ),
    _Table(
        "virtual_server[]",
        "A virtual service: ip + port, or fwmark.",
        ((VirtualServer, None),),
        (_sub("real_server", "array of tables", "see [[virtual_server.real_server]]"),),
    ),
    _Table(
        "virtual_server[].sorry_server",
        "The server that answers while the quorum is lost.",
        ((SorryServer, None),),
    ),
    _Table(
        "virtual_server[].real_server[]",
        "A real server of the virtual service. It is up when every one of its checks is up; "
        "with no check it is always up.",
        ((RealServer, None),),
        tuple(
            _sub(c, "array of tables", f"see [[virtual_server.real_server.{c}]]") for c in _CHECKS
        ),
    ),
    _Table(
        "virtual_server[].real_server[].tcp_check[]",
        "Alive when a TCP connection opens within connect_timeout.",
        ((CheckCommon, None),),
    ),
    _Table(
        "virtual_server[].real_server[].http_get[]",
        "Alive when every url answers with an expected status (and digest).",
        ((CheckCommon, None), (HttpCheck, ("virtualhost", "body_limit"))),
        (_sub("url", "array of tables", "see [[virtual_server.real_server.http_get.url]]"),),
    ),
    _Table(
        "virtual_server[].real_server[].http_get[].url[]",
        "A URL an HTTP check fetches.",
        ((HttpUrl, None),),
    ),
    _Table(
        "virtual_server[].real_server[].ssl_get[]",
        "As http_get, over TLS.",
        ((CheckCommon, None), (HttpCheck, None)),
        (_sub("url", "array of tables", "see [[virtual_server.real_server.ssl_get.url]]"),),
    ),
    _Table(
        "virtual_server[].real_server[].ssl_get[].url[]",
        "A URL an HTTPS check fetches.",
        ((HttpUrl, None),),
    ),
    _Table(
        "virtual_server[].real_server[].misc_check[]",
        "Alive when the command exits 0.",
        ((MiscCheck, None), (CheckCommon, _CHECK_TAIL)),
    ),
    _Table(
        "virtual_server[].real_server[].ping_check[]",
        "Alive when an ICMP echo reply comes back within connect_timeout.",
        ((CheckCommon, ("connect_ip", "connect_timeout", "bindto", *_CHECK_TAIL)),),
    ),
    _Table(
        "virtual_server[].real_server[].smtp_check[]",
        "Alive when the server greets with 220 and answers HELO with 250.",
        ((CheckCommon, None), (SmtpCheck, ("helo_name",))),
    ),
    _Table(
        "virtual_server[].real_server[].dns_check[]",
        "Alive when a UDP query is answered NOERROR with a record of the asked type.",
        ((CheckCommon, None), (DnsCheck, ("type", "name"))),
    ),
    _Table(
        "virtual_server[].real_server[].udp_check[]",
        "Alive unless an ICMP error (port unreachable) comes back; with require_reply, when "
        "a fitting reply arrives within connect_timeout.",
        (
            (CheckCommon, None),
            (UdpCheck, ("payload", "require_reply", "min_reply_length", "max_reply_length")),
        ),
    ),
    _Table(
        "virtual_server[].real_server[].file_check[]",
        "The number in a track_file: value × weight is added to the real server's weight; "
        "down at or below -2^31 (weight 0: down unless the value is 0).",
        ((FileCheck, ("track_file", "weight", "reverse")), (CheckCommon, ("delay_loop",))),
    ),
    _Table(
        "virtual_server[].real_server[].bfd_check[]",
        "Alive while FRR's bfdd says the BFD session with the peer is up.",
        ((BfdCheck, ("name", "vtysh")), (CheckCommon, ("delay_loop",))),
    ),
)


def header(path: str) -> str:
    """The TOML header of a table path: `[vrrp_instance.NAME]`, `[[virtual_server.real_server]]`."""
    name = path.replace("[]", "")
    return f"[[{name}]]" if path.endswith("[]") else f"[{name}]"


def _type(tp: object) -> str:
    if isinstance(tp, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type(a) for a in args)
    origin = typing.get_origin(tp)
    if origin in (tuple, frozenset):
        (inner, *_) = typing.get_args(tp)
        return "array of tables" if dataclasses.is_dataclass(inner) else f"list of {_type(inner)}s"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " | ".join(f'"{m.value}"' for m in tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return "table"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if isinstance(tp, type) and tp in names:
        return names[tp]
    raise TypeError(f"no TOML name for {tp!r}")


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, enum.Enum):
        return f'"{v.value}"'
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, tuple | frozenset):
        if all(isinstance(x, StatusRange) for x in v) and v:
            return ", ".join(f'"{x}"' for x in v)
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def _key(cls: type, f: dataclasses.Field[object], hints: dict[str, object]) -> KeyRef:
    try:
        text = KEY_DOCS[cls][f.name]
    except KeyError:
        raise MissingDescription(
            f"{cls.__name__}.{f.name} has no description: add it to lvstui/config/keydoc.py"
        ) from None
    kind = _TYPES.get((cls, f.name)) or _type(hints[f.name])
    required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    default = None
    if (cls, f.name) in _OPTIONAL:
        required = False
    elif f.default is not dataclasses.MISSING and f.default is not None:
        default = None if (cls, f.name) in _NO_DEFAULT else _value(f.default)
    return KeyRef(f.name, kind, default, required, text)


def _keys(parts: tuple[_Part, ...]) -> list[KeyRef]:
    out: list[KeyRef] = []
    for cls, only in parts:
        hints = typing.get_type_hints(cls)
        by_name = {f.name: f for f in dataclasses.fields(cls)}
        skip = _INTERNAL.get(cls, frozenset())
        names = only if only is not None else [n for n in by_name if n not in skip]
        out += [_key(cls, by_name[n], hints) for n in names]
    return out


def tables() -> tuple[TableRef, ...]:
    """Every table of the file, in the order of config.toml.example."""
    return tuple(TableRef(s.path, s.about, (*_keys(s.parts), *s.extra)) for s in _SPEC)
