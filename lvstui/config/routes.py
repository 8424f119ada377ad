"""Routes and policy rules written as keepalived writes them (iproute2's words):
`virtual_routes` / `virtual_rules` of a vrrp_instance (present while it is MASTER) and
`static_routes` / `static_rules` (present while lvstui runs).

    parse_route("192.0.2.0/24 via 198.51.100.1 dev eth0 table 100 metric 5")
    parse_rule("from 198.51.100.9 table 100 priority 100")

Each parser is total over strings: a `ValueError` says what is wrong. The subset of iproute2
taken is what keepalived's sample files and the corpus use; any other word is refused (the
import notes it and leaves the line out) rather than dropped in silence.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = [
    "ROUTE_TYPES",
    "RULE_ACTIONS",
    "IpRoute",
    "IpRule",
    "parse_route",
    "parse_rule",
    "route_text",
    "rule_text",
]

# iproute2's route types that need no next hop or device
ROUTE_TYPES = ("unicast", "blackhole", "unreachable", "prohibit", "throw")
# a rule's action other than "lookup TABLE"
RULE_ACTIONS = ("blackhole", "unreachable", "prohibit")
_SCOPES = ("global", "universe", "site", "link", "host", "nowhere")
# Linux's reserved table names (rt_tables)
_TABLES = {"default": 253, "main": 254, "local": 255}


@dataclass(frozen=True, slots=True)
class IpRoute:
    """One route: `[TYPE] [to] PREFIX [via ADDR] [dev DEV] [src ADDR] [table N] [metric N]
    [scope S] [proto N] [onlink]`."""

    dst: str  # normalised network, "0.0.0.0/0" for default
    type: str = "unicast"
    via: str | None = None
    dev: str | None = None
    src: str | None = None
    table: int | None = None  # None: main
    metric: int | None = None
    scope: str | None = None
    proto: int | None = None  # None: static (pyroute2's default)
    onlink: bool = False

    @property
    def family(self) -> int:
        return ipaddress.ip_network(self.dst).version


@dataclass(frozen=True, slots=True)
class IpRule:
    """One policy rule: `[from PREFIX|all] [to PREFIX|all] [fwmark N[/MASK]] [iif DEV]
    [oif DEV] [priority N] (table N | blackhole | unreachable | prohibit)`."""

    src: str | None = None  # normalised network; None: all
    dst: str | None = None
    table: int | None = None
    action: str | None = None  # None: lookup `table`
    priority: int | None = None  # None: 32000 (the kernel would pick one we could not delete)
    fwmark: int | None = None
    fwmask: int | None = None
    iif: str | None = None
    oif: str | None = None
    family: int = 4

    @property
    def lookup(self) -> bool:
        return self.action is None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if text == "default":
        text = "0.0.0.0/0"
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an address or prefix") from None


def _address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an address") from None


def _int(text: str, word: str, low: int, high: int) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(f"{word} needs a number, got {text!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{word} must be {low}-{high}, got {value}")
    return value


def _table(text: str) -> int:
    if text in _TABLES:
        return _TABLES[text]
    return _int(text, "table", 1, 2**32 - 1)


def _words(text: str) -> list[str]:
    words = text.split()
    if not words:
        raise ValueError("empty entry")
    return words


# iproute2's other spellings of the words taken
_ROUTE_WORDS = {
    "to": "to",
    "via": "via",
    "gw": "via",
    "dev": "dev",
    "src": "src",
    "table": "table",
    "metric": "metric",
    "priority": "metric",
    "preference": "metric",
    "scope": "scope",
    "proto": "proto",
    "protocol": "proto",
}
# /etc/iproute2/rt_protos names
_PROTOS = {"kernel": 2, "boot": 3, "static": 4}


def _proto(text: str) -> int:
    return _PROTOS[text] if text in _PROTOS else _int(text, "proto", 0, 255)


def parse_route(text: str) -> IpRoute:
    words = _words(text)
    six = words[0] in ("inet6", "-6")
    if words[0] in ("inet", "inet6", "-4", "-6"):
        words.pop(0)
    kind = words.pop(0) if words and words[0] in ROUTE_TYPES else "unicast"
    args: dict[str, object] = {}
    dst: str | None = None
    while words:
        word = words.pop(0)
        if word == "onlink":
            args["onlink"] = True
            continue
        key = _ROUTE_WORDS.get(word)
        if key is None and dst is None:
            key, value = "to", word
        elif key is None:
            raise ValueError(
                f"unknown word {word!r} (lvstui takes to, via, dev, src, table, metric, "
                "scope, proto, onlink, inet6 and a route type)"
            )
        elif not words:
            raise ValueError(f"{word} needs a value")
        else:
            value = words.pop(0)
        if key == "to":
            if dst is not None:
                raise ValueError("two destinations")
            dst = "::/0" if six and value == "default" else str(_network(value))
        elif key in ("via", "src"):
            args[key] = _address(value)
        elif key == "dev":
            args["dev"] = value
        elif key == "table":
            args["table"] = _table(value)
        elif key == "metric":
            args["metric"] = _int(value, "metric", 0, 2**32 - 1)
        elif key == "proto":
            args["proto"] = _proto(value)
        elif value not in _SCOPES:
            raise ValueError(f"scope must be one of {', '.join(_SCOPES)}, got {value!r}")
        else:
            args["scope"] = value
    if dst is None:
        raise ValueError("no destination prefix")
    route = IpRoute(dst=dst, type=kind, **args)  # type: ignore[arg-type]
    family = route.family
    if six and family != 6:
        raise ValueError(f"inet6 with the IPv4 destination {dst}")
    for key in ("via", "src"):
        addr = getattr(route, key)
        if addr is not None and ipaddress.ip_address(addr).version != family:
            raise ValueError(f"{key} {addr} is not IPv{family} like {dst}")
    if kind == "unicast" and route.via is None and route.dev is None:
        raise ValueError("a unicast route needs `via ADDR` or `dev DEV`")
    if kind != "unicast" and (route.via is not None or route.dev is not None):
        raise ValueError(f"a {kind} route has no next hop or device")
    return route


def parse_rule(text: str) -> IpRule:
    words = _words(text)
    args: dict[str, object] = {}
    families: set[int] = set()
    while words:
        word = words.pop(0)
        if word in RULE_ACTIONS:
            args["action"] = word
            continue
        if word in ("inet", "inet6", "-4", "-6"):
            families.add(6 if word in ("inet6", "-6") else 4)
            continue
        if not words:
            raise ValueError(f"{word} needs a value")
        value = words.pop(0)
        if word in ("from", "to"):
            if value != "all":
                net = _network(value)
                families.add(net.version)
                args["src" if word == "from" else "dst"] = str(net)
        elif word in ("table", "lookup"):
            args["table"] = _table(value)
        elif word in ("priority", "preference", "pref", "prio"):
            args["priority"] = _int(value, "priority", 0, 2**32 - 1)
        elif word == "fwmark":
            mark, slash, mask = value.partition("/")
            args["fwmark"] = _int(mark, "fwmark", 0, 2**32 - 1)
            if slash:
                args["fwmask"] = _int(mask, "fwmark mask", 0, 2**32 - 1)
        elif word in ("iif", "dev"):
            args["iif"] = value
        elif word == "oif":
            args["oif"] = value
        else:
            raise ValueError(
                f"unknown word {word!r} (lvstui takes from, to, table, priority, "
                "fwmark, iif, oif, inet6 and blackhole/unreachable/prohibit)"
            )
    if len(families) > 1:
        raise ValueError("IPv4 and IPv6 in one rule")
    if ("table" in args) == ("action" in args):
        raise ValueError("a rule needs `table N` or one of blackhole, unreachable, prohibit")
    return IpRule(family=families.pop() if families else 4, **args)  # type: ignore[arg-type]


def route_text(r: IpRoute) -> str:
    """The one-line form `parse_route` reads back to the same route."""
    words = [] if r.type == "unicast" else [r.type]
    words.append(r.dst)
    for key, value in (
        ("via", r.via),
        ("dev", r.dev),
        ("src", r.src),
        ("table", r.table),
        ("metric", r.metric),
        ("scope", r.scope),
        ("proto", r.proto),
    ):
        if value is not None:
            words += [key, str(value)]
    if r.onlink:
        words.append("onlink")
    return " ".join(words)


def rule_text(r: IpRule) -> str:
    """The one-line form `parse_rule` reads back to the same rule."""
    words = [] if r.src or r.dst or r.family == 4 else ["inet6"]
    for key, value in (
        ("from", r.src),
        ("to", r.dst),
        ("iif", r.iif),
        ("oif", r.oif),
        ("priority", r.priority),
    ):
        if value is not None:
            words += [key, str(value)]
    if r.fwmark is not None:
        words += ["fwmark", f"{r.fwmark}" + (f"/{r.fwmask}" if r.fwmask is not None else "")]
    words += [r.action] if r.action else ["table", str(r.table)]
    return " ".join(words)
