"""A real server's checks: `[[...tcp_check]]`, `http_get`, `ssl_get`, `misc_check`, `ping_check`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from lvstui.config.hexstr import parse_hex
from lvstui.config.schema import (
    DEFAULT_BODY_LIMIT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DNS_RETRY,
    DEFAULT_RETRY,
    DEFAULT_SMTP_HELO,
    DEFAULT_STATUS_CODES,
    DEFAULT_UDP_MAX_REPLY,
    DNS_TYPES,
    BfdCheck,
    Check,
    CheckCommon,
    CheckKind,
    DnsCheck,
    FileCheck,
    HttpCheck,
    HttpUrl,
    MiscCheck,
    PingCheck,
    SmtpCheck,
    StatusRange,
    TcpCheck,
    TrackFile,
    UdpCheck,
)
from lvstui.config.suggest import did_you_mean
from lvstui.config.table import MISSING, Table, check_argv
from lvstui.errors import ConfigError

# Checks of one real server are kept in this order whatever order the file lists them in,
# so a TOML file (which groups them by kind) and a keepalived.conf give the same model.
CHECK_ORDER = (
    CheckKind.TCP_CHECK,
    CheckKind.HTTP_GET,
    CheckKind.SSL_GET,
    CheckKind.MISC_CHECK,
    CheckKind.PING_CHECK,
    CheckKind.SMTP_CHECK,
    CheckKind.DNS_CHECK,
    CheckKind.UDP_CHECK,
    CheckKind.FILE_CHECK,
    CheckKind.BFD_CHECK,
)
_WEIGHT_LIMIT = 2**31 - 1


def sort_checks(checks: Sequence[Check]) -> tuple[Check, ...]:
    return tuple(sorted(checks, key=lambda c: CHECK_ORDER.index(c.kind)))


def _common(
    t: Table, *, ports: bool = True, connect: bool = True, retry: int = DEFAULT_RETRY
) -> CheckCommon:
    c = CheckCommon(
        connect_ip=t.ip("connect_ip") if connect else None,
        connect_port=t.integer("connect_port", None, 1, 65535) if ports else None,
        connect_timeout=t.number("connect_timeout", DEFAULT_CONNECT_TIMEOUT, positive=True)
        if connect
        else DEFAULT_CONNECT_TIMEOUT,
        bindto=t.ip("bindto") if connect else None,
        bind_port=t.integer("bind_port", None, 1, 65535) if ports else None,
        retry=t.integer("retry", retry, 0, 1000),
        delay_before_retry=t.number("delay_before_retry", None, 0),
        warmup=t.number("warmup", None, 0),
        delay_loop=t.number("delay_loop", None, positive=True),
        rise=t.integer("rise", 1, 1, 1000),
        fall=t.integer("fall", 1, 1, 1000),
    )
    return c


def _tcp(t: Table) -> Check:
    c = TcpCheck(common=_common(t))
    t.finish()
    return c


def _ping(t: Table) -> Check:
    c = PingCheck(common=_common(t, ports=False))
    t.finish(dict.fromkeys(("connect_port", "bind_port"), "a ping has no port"))
    return c


def _misc(t: Table) -> Check | None:
    path = t.req_str("misc_path")
    check_argv(t, "misc_path", path)
    c = MiscCheck(
        misc_path=path,
        misc_timeout=t.number("misc_timeout", None, positive=True),
        misc_dynamic=t.flag("misc_dynamic", False),
        user=t.text("user", None, nonempty=True),
        common=_common(t, ports=False, connect=False),
    )
    t.finish(
        dict.fromkeys(
            ("connect_ip", "connect_port", "connect_timeout", "bindto", "bind_port"),
            "MISC_CHECK runs a script: pass the address in misc_path, the limit in misc_timeout",
        )
    )
    return c


def _http(t: Table, tls: bool) -> Check | None:
    urls = []
    uts = t.subs("url")
    if not uts and not t.has("url"):
        t.err(None, "an HTTP check needs at least one [[...url]] table", 'add url = [{path = "/"}]')
    for ut in uts:
        path = ut.req_str("path")
        if path and not path.startswith("/"):
            ut.err("path", f"a URL path starts with '/', got {path!r}")
        digest = ut.text("digest", None)
        if digest is not None:
            if not re.fullmatch(r"[0-9a-fA-F]{32}", digest):
                ut.err(
                    "digest",
                    f"expected 32 hex digits (an MD5), got {digest!r}",
                    "get it with `lvstui genhash`",
                )
                digest = None
            else:
                digest = digest.lower()
        codes = DEFAULT_STATUS_CODES
        name, value = ut.raw("status_code")
        if value is not MISSING:
            try:
                codes = parse_status_codes(value)
            except ValueError as exc:
                ut.err(name, str(exc))
        urls.append(
            HttpUrl(
                path=path,
                digest=digest,
                status_code=codes,
                virtualhost=ut.text("virtualhost", None, nonempty=True),
            )
        )
        ut.finish()
    c = HttpCheck(
        urls=tuple(urls),
        common=_common(t),
        tls=tls,
        virtualhost=t.text("virtualhost", None, nonempty=True),
        verify=t.flag("verify", False) if tls else False,
        sni=t.text("sni", None, nonempty=True) if tls else None,
        body_limit=t.integer("body_limit", DEFAULT_BODY_LIMIT, 1, 1 << 30),
    )
    t.finish(dict.fromkeys(("verify", "sni"), "TLS settings belong to ssl_get"))
    return c


def _smtp(t: Table) -> Check:
    c = SmtpCheck(
        helo_name=t.text("helo_name", DEFAULT_SMTP_HELO, nonempty=True), common=_common(t)
    )
    t.finish()
    return c


def _dns(t: Table) -> Check:
    qtype = str(t.text("type", "SOA", nonempty=True)).upper()
    if qtype not in DNS_TYPES:
        t.err("type", f"unknown DNS query type {qtype!r}", f"one of {', '.join(DNS_TYPES)}")
        qtype = "SOA"
    c = DnsCheck(
        type=qtype,
        name=t.text("name", ".", nonempty=True),
        common=_common(t, retry=DEFAULT_DNS_RETRY),
    )
    t.finish()
    return c


def _hex(t: Table, key: str, *, wildcard: bool = False) -> str | None:
    text = t.text(key, None)
    if text is None:
        return None
    try:
        return parse_hex(text, wildcard=wildcard)
    except ConfigError as exc:
        t.err(key, str(exc.args[0]), exc.hint)
        return None


def _udp(t: Table) -> Check:
    payload = _hex(t, "payload")
    _, reply = t.raw("require_reply")
    pattern: str | None = None
    if isinstance(reply, str):  # require_reply = "HEX": a reply matching it
        pattern = _hex(t, "require_reply", wildcard=True)
        require = True
    else:
        require = bool(t.flag("require_reply", False))
    lo = t.integer("min_reply_length", 0, 0, 65535)
    hi = t.integer("max_reply_length", DEFAULT_UDP_MAX_REPLY, 0, 65535)
    if lo > hi:
        t.err("min_reply_length", f"min_reply_length {lo} is above max_reply_length {hi}")
    c = UdpCheck(
        payload=bytes.fromhex(payload) if payload is not None else None,
        require_reply=require,
        reply=pattern,
        min_reply_length=lo,
        max_reply_length=hi,
        common=_common(t),
    )
    t.finish()
    return c


_NO_COMMON = {
    k: "keepalived's FILE_CHECK and BFD_CHECK take none of the common check options"
    for k in ("connect_ip", "connect_port", "connect_timeout", "bindto", "bind_port", "retry")
}


def _file(t: Table) -> Check | None:
    name = t.req_str("track_file")
    tf = t.ctx.track_files.get(name)
    weight = t.integer("weight", None, -_WEIGHT_LIMIT, _WEIGHT_LIMIT)
    reverse = t.flag("reverse", None)
    delay_loop = t.number("delay_loop", None, positive=True)
    t.finish(_NO_COMMON)
    if name and tf is None:
        known = sorted(t.ctx.track_files)
        t.err(
            "track_file",
            f"unknown track_file {name!r}",
            did_you_mean(name, known) or "define it as [track_file.NAME]",
        )
        return None
    if tf is None:
        return None
    return FileCheck(
        track_file=name,
        file=tf.file,
        weight=tf.weight if weight is None else weight,
        reverse=tf.reverse if reverse is None else reverse,
        init_file=tf.init_file,
        init_overwrite=tf.init_overwrite,
        common=CheckCommon(delay_loop=delay_loop),
    )


def _bfd(t: Table) -> Check:
    vtysh = t.str_list("vtysh") if t.has("vtysh") else ("vtysh",)
    if not vtysh or not all(vtysh):
        t.err("vtysh", "must name a command", 'e.g. ["vtysh", "--vty_socket", "/run/frr"]')
        vtysh = ("vtysh",)
    c = BfdCheck(
        name=t.req_str("name"),
        vtysh=vtysh,
        common=CheckCommon(delay_loop=t.number("delay_loop", None, positive=True)),
    )
    t.finish(_NO_COMMON)
    return c


def read_track_file(name: str, t: Table) -> TrackFile:
    """`[track_file.NAME]`: keepalived's track_file block."""
    init = t.raw("init_file")[1]
    tf = TrackFile(
        name=name,
        file=t.req_str("file"),
        weight=t.integer("weight", 1, -_WEIGHT_LIMIT, _WEIGHT_LIMIT),
        reverse=t.flag("reverse", False),
        init_file=t.integer("init_file", None) if init is not MISSING else None,
        init_overwrite=t.flag("init_overwrite", False),
    )
    if tf.init_overwrite and tf.init_file is None:
        t.err("init_overwrite", "init_overwrite without init_file", "set init_file = VALUE")
    t.finish()
    return tf


CHECKS: dict[str, Callable[[Table], Check | None]] = {
    "tcp_check": _tcp,
    "http_get": lambda t: _http(t, False),
    "ssl_get": lambda t: _http(t, True),
    "misc_check": _misc,
    "ping_check": _ping,
    "smtp_check": _smtp,
    "dns_check": _dns,
    "udp_check": _udp,
    "file_check": _file,
    "bfd_check": _bfd,
}


def parse_status_codes(value: object) -> tuple[StatusRange, ...]:
    """200 | "200-299" | [200, "300-302"] → ranges. Raises ValueError with a message."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("empty list of status codes")
    out = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"expected a status code, got {item!r}")
        if isinstance(item, int):
            lo = hi = item
        elif isinstance(item, str) and re.fullmatch(r"\s*\d{3}\s*(-\s*\d{3}\s*)?", item):
            a, _, b = item.partition("-")
            lo, hi = int(a), int(b or a)
        else:
            raise ValueError(f'expected a code like 200 or a range like "200-299", got {item!r}')
        if not (100 <= lo <= hi <= 599):
            raise ValueError(f"status codes go from 100 to 599 (low-high), got {item!r}")
        out.append(StatusRange(lo, hi))
    return tuple(out)
