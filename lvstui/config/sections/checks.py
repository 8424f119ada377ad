"""A real server's checks: `[[...tcp_check]]`, `http_get`, `ssl_get`, `misc_check`, `ping_check`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from lvstui.config.schema import (
    DEFAULT_BODY_LIMIT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DELAY_BEFORE_RETRY,
    DEFAULT_RETRY,
    DEFAULT_STATUS_CODES,
    Check,
    CheckCommon,
    CheckKind,
    HttpCheck,
    HttpUrl,
    MiscCheck,
    PingCheck,
    StatusRange,
    TcpCheck,
)
from lvstui.config.table import MISSING, Table, check_argv

# Checks of one real server are kept in this order whatever order the file lists them in,
# so a TOML file (which groups them by kind) and a keepalived.conf give the same model.
CHECK_ORDER = (
    CheckKind.TCP_CHECK,
    CheckKind.HTTP_GET,
    CheckKind.SSL_GET,
    CheckKind.MISC_CHECK,
    CheckKind.PING_CHECK,
)


def sort_checks(checks: Sequence[Check]) -> tuple[Check, ...]:
    return tuple(sorted(checks, key=lambda c: CHECK_ORDER.index(c.kind)))


def _common(t: Table, *, ports: bool = True, connect: bool = True) -> CheckCommon:
    c = CheckCommon(
        connect_ip=t.ip("connect_ip") if connect else None,
        connect_port=t.integer("connect_port", None, 1, 65535) if ports else None,
        connect_timeout=t.number("connect_timeout", DEFAULT_CONNECT_TIMEOUT, positive=True)
        if connect
        else DEFAULT_CONNECT_TIMEOUT,
        bindto=t.ip("bindto") if connect else None,
        bind_port=t.integer("bind_port", None, 1, 65535) if ports else None,
        retry=t.integer("retry", DEFAULT_RETRY, 0, 1000),
        delay_before_retry=t.number("delay_before_retry", DEFAULT_DELAY_BEFORE_RETRY, 0),
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


CHECKS: dict[str, Callable[[Table], Check | None]] = {
    "tcp_check": _tcp,
    "http_get": lambda t: _http(t, False),
    "ssl_get": lambda t: _http(t, True),
    "misc_check": _misc,
    "ping_check": _ping,
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
