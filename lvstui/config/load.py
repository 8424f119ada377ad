"""Read config.toml into the typed tree of `lvstui.config.schema`, or say exactly what is wrong.

`tomllib` turns the text into dicts; the readers below turn the dicts into frozen
dataclasses, checking every key's type and range as they go. Errors are collected, not
raised one by one, so `check-config` shows every problem of a file in one run; when there
is at least one, `ConfigErrors` (a `ConfigError` carrying them all) is raised. Each error
names the file, the line (found by `lvstui.config.locate`), the key path, and what is
expected.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from lvstui.config.locate import KeyPath, LineOf, Locator, format_key
from lvstui.config.schema import (
    DEFAULT_BODY_LIMIT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_CONTROL_SOCKET,
    DEFAULT_DELAY_BEFORE_RETRY,
    DEFAULT_DELAY_LOOP,
    DEFAULT_GARP_MASTER_DELAY,
    DEFAULT_GARP_MASTER_REPEAT,
    DEFAULT_NOTIFY_TIMEOUT,
    DEFAULT_PERSISTENCE_TIMEOUT,
    DEFAULT_PRIORITY,
    DEFAULT_RETRY,
    DEFAULT_SMTP_CONNECT_TIMEOUT,
    DEFAULT_SMTP_PORT,
    DEFAULT_STATE_DIR,
    DEFAULT_STATUS_CODES,
    DEFAULT_WEIGHT,
    KERNEL_SCHEDULERS,
    SCHEDULER_FLAGS,
    USERSPACE_SCHEDULERS,
    AuthType,
    Check,
    CheckCommon,
    CheckKind,
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
from lvstui.errors import ConfigError

__all__ = [
    "CHECK_ORDER",
    "ConfigErrors",
    "load_config",
    "load_config_data",
    "load_config_text",
    "parse_status_codes",
    "parse_vip",
    "sort_checks",
]

E = TypeVar("E", bound=Enum)

# Checks of one real server are kept in this order whatever order the file lists them in,
# so a TOML file (which groups them by kind) and a keepalived.conf give the same model.
CHECK_ORDER = (
    CheckKind.TCP_CHECK,
    CheckKind.HTTP_GET,
    CheckKind.SSL_GET,
    CheckKind.MISC_CHECK,
    CheckKind.PING_CHECK,
)
# keepalived's older spellings, accepted where they are cheap to map.
ALIASES = {"nb_get_retry": "retry", "lvs_sched": "lb_algo", "lvs_method": "lb_kind"}
_MISSING: Any = object()
_DEFAULT_ALGO = "wlc"  # VirtualServer.lb_algo (slotted classes hide field defaults)
_PASS_MAX = 8  # VRRPv2 carries 8 bytes of password; keepalived truncates longer ones


class ConfigErrors(ConfigError):
    """Every error found in one file. `errors` holds them in file order."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        ordered = sorted(errors, key=lambda e: (e.file, e.line or 0))
        first = ordered[0]
        super().__init__(
            first.detail, file=first.file, line=first.line, key=first.key, hint=first.hint
        )
        self.errors: tuple[ConfigError, ...] = tuple(ordered)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def sort_checks(checks: Sequence[Check]) -> tuple[Check, ...]:
    return tuple(sorted(checks, key=lambda c: CHECK_ORDER.index(c.kind)))


# --- entry points ----------------------------------------------------------------------------


def decode_text(data: bytes, file: str) -> str:
    """UTF-8 text of a config file. A leading byte-order mark (left by some Windows editors)
    is dropped; anything that is not UTF-8 is an error naming the line, not a codec trace."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise ConfigError(
            f"not UTF-8 text: byte 0x{data[start]:02x} at column {column}",
            file=file,
            line=line,
            hint="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); "
            "binary files are not configuration",
        ) from None


def read_config_text(path: str | Path, hint: str = "") -> str:
    """Read a config file as text; `ConfigError` (with `hint` when missing) otherwise."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError("no such file", file=str(p), hint=hint) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", file=str(p), hint=hint) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    return decode_text(data, str(p))


def load_config(path: str | Path) -> Config:
    """Read and validate a config file. Raises `ConfigError` (often `ConfigErrors`)."""
    text = read_config_text(path, hint="pass the config file with -f FILE")
    return load_config_text(text, str(path))


# The first word of a keepalived.conf block: given to check-config, say what to do with it.
_KEEPALIVED_HEAD = re.compile(
    r"^\s*(global_defs|vrrp_instance|vrrp_sync_group|vrrp_script|virtual_server(_group)?"
    r"|static_ipaddress|static_routes|include)\b[^=\n]*(\{|$)",
    re.MULTILINE,
)


def load_config_text(text: str, path: str = "<string>") -> Config:
    """Parse TOML text. `path` only names the file in errors and in `Config.path`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        detail = msg[: m.start()].strip() if m else msg
        if m:
            detail += f" (column {m.group(2)})"
        hint = "see https://toml.io; strings need quotes, tables [name], lists of tables [[name]]"
        if _KEEPALIVED_HEAD.search(text) and not text.lstrip().startswith("["):
            hint = (
                f"this looks like a keepalived.conf: `lvstui import-keepalived {path}` converts it"
            )
        raise ConfigErrors(
            [ConfigError(f"TOML syntax error: {detail}", file=path, line=line, hint=hint)]
        ) from None
    return load_config_data(data, path, Locator(text))


def load_config_data(data: dict[str, Any], path: str, line_of: LineOf | None = None) -> Config:
    """Validate already-parsed TOML data. `line_of` maps key paths to lines for errors."""
    ctx = _Ctx(path, line_of or (lambda _p: None))
    cfg = _build(ctx, _T(ctx, data, ()))
    if ctx.errors:
        raise ConfigErrors(ctx.errors)
    return cfg


# --- shared parsing helpers (also used by the keepalived importer) --------------------------


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


_VIP_OPTS = {"dev": "dev", "label": "label", "scope": "scope", "brd": "broadcast"}
_VIP_OPTS["broadcast"] = "broadcast"


def parse_vip(text: str) -> VipAddress:
    """`10.0.0.1/24 dev eth1 label eth1:1 scope global brd 10.0.0.255` → VipAddress."""
    words = text.split()
    if not words:
        raise ValueError("empty address")
    addr, prefixlen = _parse_prefix(words[0])
    opts: dict[str, str] = {}
    rest = words[1:]
    while rest:
        key = rest.pop(0)
        if key not in _VIP_OPTS:
            raise ValueError(f"unknown option {key!r} (expected dev, label, scope or brd)")
        if not rest:
            raise ValueError(f"{key} needs a value")
        opts[_VIP_OPTS[key]] = rest.pop(0)
    if "broadcast" in opts:
        opts["broadcast"] = str(ipaddress.ip_address(opts["broadcast"]))
    return VipAddress(address=addr, prefixlen=prefixlen, **opts)


def _parse_prefix(text: str) -> tuple[str, int]:
    addr_s, slash, plen_s = text.partition("/")
    ip = ipaddress.ip_address(addr_s)
    maxlen = ip.max_prefixlen
    if not slash:
        return str(ip), maxlen
    if not plen_s.isdigit() or not (0 <= int(plen_s) <= maxlen):
        raise ValueError(f"prefix length must be 0-{maxlen}, got {plen_s!r}")
    return str(ip), int(plen_s)


# --- the reader ---------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, file: str, line_of: LineOf) -> None:
        self.file = file
        self.line_of = line_of
        self.errors: list[ConfigError] = []
        self.dataplane = DataplaneKind.AUTO
        self._seen: set[tuple[KeyPath, str]] = set()

    def err(self, path: KeyPath, message: str, hint: str = "") -> None:
        if (path, message) in self._seen:  # a key read twice reports once
            return
        self._seen.add((path, message))
        self.errors.append(
            ConfigError(
                message, file=self.file, line=self.line_of(path), key=format_key(path), hint=hint
            )
        )


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _show(value: object) -> str:
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."


class _T:
    """One TOML table being read: typed getters that log errors and fall back to defaults."""

    def __init__(self, ctx: _Ctx, data: dict[str, Any], path: KeyPath) -> None:
        self.ctx = ctx
        self.data = data
        self.path = path
        self.known: set[str] = set()

    def at(self, key: str | int) -> KeyPath:
        return (*self.path, key)

    def err(self, key: str | int | None, message: str, hint: str = "") -> None:
        self.ctx.err(self.path if key is None else self.at(key), message, hint)

    def has(self, key: str) -> bool:
        self.known.add(key)
        return key in self.data or any(a in self.data for a, k in ALIASES.items() if k == key)

    def raw(self, key: str) -> tuple[str, Any]:
        """The value of `key` (or of an alias of it), with the spelling found."""
        self.known.add(key)
        found = [(key, self.data[key])] if key in self.data else []
        for alias, target in ALIASES.items():
            if target == key and alias in self.data:
                self.known.add(alias)
                found.append((alias, self.data[alias]))
        if len(found) > 1:
            self.err(found[1][0], f"`{found[1][0]}` and `{key}` are the same setting; keep one")
        return found[0] if found else (key, _MISSING)

    def _typed(self, key: str, default: Any, ok: Callable[[Any], bool], want: str) -> Any:
        name, value = self.raw(key)
        if value is _MISSING:
            return default
        if not ok(value):
            self.err(name, f"expected {want}, got {_kind(value)} ({_show(value)})")
            return default
        return value

    def text(self, key: str, default: Any = "", *, nonempty: bool = False) -> Any:
        v = self._typed(key, default, lambda v: isinstance(v, str), "a string")
        if nonempty and isinstance(v, str) and not v.strip() and self.has(key):
            self.err(key, "must not be empty")
        return v

    def req_str(self, key: str) -> str:
        if not self.has(key):
            self.err(None, f"missing required key `{key}`", f'add {key} = "..."')
            return ""
        return str(self.text(key, "", nonempty=True))

    def flag(self, key: str, default: Any = False) -> Any:
        return self._typed(key, default, lambda v: isinstance(v, bool), "true or false")

    def integer(self, key: str, default: Any, lo: int | None = None, hi: int | None = None) -> Any:
        name, value = self.raw(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.err(name, f"expected an integer, got {_kind(value)} ({_show(value)})")
            return default
        return self._range(name, value, default, lo, hi)

    def number(
        self,
        key: str,
        default: Any,
        lo: float | None = None,
        hi: float | None = None,
        *,
        positive: bool = False,
    ) -> Any:
        name, value = self.raw(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.err(name, f"expected a number of seconds, got {_kind(value)} ({_show(value)})")
            return default
        if not math.isfinite(value):
            self.err(name, f"expected a finite number, got {value}")
            return default
        if positive and value <= 0:
            self.err(name, f"must be greater than 0, got {value}")
            return default
        checked = self._range(name, value, default, lo, hi)
        return checked if checked is None else float(checked)  # out of range: the default

    def _range(self, name: str, value: Any, default: Any, lo: Any, hi: Any) -> Any:
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if hi is None:
                want = f"at least {lo}"
            elif lo is None:
                want = f"at most {hi}"
            else:
                want = f"between {lo} and {hi}"
            self.err(name, f"out of range: expected {want}, got {value}")
            return default
        return value

    def choice(self, key: str, cls: type[E], default: Any, *, upper: bool = True) -> Any:
        name, value = self.raw(key)
        if value is _MISSING:
            return default
        choices = [m.value for m in cls]
        if isinstance(value, str):
            norm = value.upper() if upper else value.lower()
            for m in cls:
                if m.value == norm:
                    return m
        self.err(
            name,
            f"expected one of {', '.join(map(str, choices))}, got {_show(value)}",
            _did_you_mean(str(value), [str(c) for c in choices]),
        )
        return default

    def str_list(self, key: str) -> tuple[str, ...]:
        name, value = self.raw(key)
        if value is _MISSING:
            return ()
        if isinstance(value, str):  # a single item is fine
            return (value,)
        if not isinstance(value, list):
            self.err(name, f"expected a list of strings, got {_kind(value)}")
            return ()
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.ctx.err((*self.path, name, i), f"expected a string, got {_kind(item)}")
        return tuple(out)

    def ip(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        if required and not self.has(key):
            self.err(None, f"missing required key `{key}`", f'add {key} = "ADDRESS"')
            return default
        value = self.text(key, _MISSING)
        if value is _MISSING:
            return default
        return _check_ip(self.ctx, self.at(key), value, default)

    def sub(self, key: str) -> _T | None:
        self.known.add(key)
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.err(key, f"expected a table, got {_kind(value)}")
            return None
        return _T(self.ctx, value, self.at(key))

    def subs(self, key: str) -> list[_T]:
        """An array of tables ([[key]]); a single table is accepted as a list of one."""
        self.known.add(key)
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            return []
        if isinstance(value, dict):
            self.err(key, f"expected a list of tables: write [[...{key}]], not [...{key}]")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.err(key, f"expected a list of tables ([[...{key}]]), got {_kind(value)}")
            return []
        return [_T(self.ctx, v, (*self.path, key, i)) for i, v in enumerate(value)]

    def named(self, key: str) -> Iterator[tuple[str, _T]]:
        """[key.NAME] tables."""
        t = self.sub(key)
        if t is None:
            return
        for name, value in t.data.items():
            t.known.add(name)
            if not isinstance(value, dict):
                t.err(name, f"expected a table [{key}.{name}], got {_kind(value)}")
                continue
            yield name, _T(self.ctx, value, t.at(name))

    def finish(self, not_here: dict[str, str] | None = None) -> None:
        """Report every key nobody asked for; `not_here`: keys valid elsewhere, and why."""
        for key in self.data:
            if key in self.known:
                continue
            if not_here and key in not_here:
                self.err(key, f"`{key}` does not apply here: {not_here[key]}")
                continue
            self.err(
                key,
                f"unknown key `{key}`",
                _did_you_mean(key, sorted(self.known))
                or f"keys allowed here: {', '.join(sorted(self.known))}",
            )


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1)
    if close:
        real = next(c for c in choices if c.lower() == close[0])
        return f"did you mean `{real}`?"
    return ""


def _check_ip(ctx: _Ctx, path: KeyPath, value: str, default: Any) -> Any:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        ctx.err(
            path, f"expected an IP address, got {_show(value)}", "e.g. 192.0.2.10 or 2001:db8::10"
        )
        return default


# --- the tree ------------------------------------------------------------------------------------


_TOP = (
    "global_defs",
    "lvstui",
    "vrrp_script",
    "vrrp_sync_group",
    "vrrp_instance",
    "virtual_server",
)


def _build(ctx: _Ctx, root: _T) -> Config:
    gt = root.sub("global_defs")
    gd = _global_defs(gt) if gt else GlobalDefs()
    lt = root.sub("lvstui")
    settings = _lvstui(lt) if lt else LvstuiSettings()
    ctx.dataplane = settings.dataplane
    scripts = tuple(_vrrp_script(name, t) for name, t in root.named("vrrp_script"))
    groups = tuple(_sync_group(name, t) for name, t in root.named("vrrp_sync_group"))
    instances = tuple(_instance(name, t, gd) for name, t in root.named("vrrp_instance"))
    vss = tuple(_virtual_server(t) for t in root.subs("virtual_server"))
    root.known.update(_TOP)
    root.finish()
    cfg = Config(
        path=ctx.file,
        global_defs=gd,
        lvstui=settings,
        vrrp_scripts=scripts,
        vrrp_sync_groups=groups,
        vrrp_instances=instances,
        virtual_servers=vss,
    )
    _cross_checks(ctx, cfg)
    return cfg


def _global_defs(t: _T) -> GlobalDefs:
    smtp = t.text("smtp_server", "")
    host, port = smtp, DEFAULT_SMTP_PORT
    if smtp:
        try:
            host, port = _split_smtp(smtp)
        except ValueError as exc:
            t.err("smtp_server", str(exc), 'e.g. "relay.example.com" or "relay.example.com:587"')
    sync = None
    st = t.sub("lvs_sync_daemon")
    if st is not None:
        sync = SyncDaemon(
            interface=st.req_str("interface"),
            instance=st.req_str("instance"),
            syncid=st.integer("syncid", 0, 0, 255),
            maxlen=st.integer("maxlen", None, 1, 65507),
            port=st.integer("port", None, 1, 65535),
            ttl=st.integer("ttl", None, 1, 255),
            group=st.ip("group"),
        )
        st.finish()
    emails = t.str_list("notification_email")
    for i, mail in enumerate(emails):
        if "@" not in mail:
            t.ctx.err((*t.at("notification_email"), i), f"not an e-mail address: {mail!r}")
    gd = GlobalDefs(
        router_id=t.text("router_id", ""),
        notification_email=emails,
        notification_email_from=t.text("notification_email_from", ""),
        smtp_server=host,
        smtp_port=port,
        smtp_connect_timeout=t.number(
            "smtp_connect_timeout", DEFAULT_SMTP_CONNECT_TIMEOUT, positive=True
        ),
        smtp_alert=t.flag("smtp_alert", False),
        vrrp_version=t.integer("vrrp_version", 2, 2, 3),
        lvs_sync_daemon=sync,
    )
    t.finish()
    return gd


def _split_smtp(text: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ""
        if rest and not port_s:
            raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
    elif text.count(":") == 1:
        host, _, port_s = text.partition(":")
    else:
        host, port_s = text, ""
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"expected HOST or HOST:PORT, got {text!r}")
    if not port_s:
        return host, DEFAULT_SMTP_PORT
    if not port_s.isdigit() or not (1 <= int(port_s) <= 65535):
        raise ValueError(f"port must be 1-65535, got {port_s!r}")
    return host, int(port_s)


def _lvstui(t: _T) -> LvstuiSettings:
    keys: list[tuple[str, str]] = []
    kt = t.sub("keys")
    if kt is not None:
        for action, key in kt.data.items():
            kt.known.add(action)
            if isinstance(key, str) and key:
                keys.append((action, key))
            else:
                kt.err(
                    action, f'expected a key name string such as "d" or "ctrl+d", got {_show(key)}'
                )
    metrics = t.text("metrics_listen", "")
    if metrics:
        host, _, port = metrics.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            t.err("metrics_listen", f"expected HOST:PORT, got {metrics!r}", 'e.g. "127.0.0.1:9336"')
    s = LvstuiSettings(
        dataplane=t.choice("dataplane", DataplaneKind, DataplaneKind.AUTO, upper=False),
        control_socket=t.text("control_socket", DEFAULT_CONTROL_SOCKET, nonempty=True),
        control_group=t.text("control_group", ""),
        control_read_only_others=t.flag("control_read_only_others", True),
        state_dir=t.text("state_dir", DEFAULT_STATE_DIR, nonempty=True),
        metrics_listen=metrics,
        directors=t.integer("directors", 2, 1, 64),
        check_concurrency=t.integer("check_concurrency", 1000, 1, 1_000_000),
        notify_timeout=t.number("notify_timeout", DEFAULT_NOTIFY_TIMEOUT, positive=True),
        drain_timeout=t.number("drain_timeout", 0.0, 0),
        keys=tuple(keys),
        theme=t.text("theme", "dark", nonempty=True),
    )
    t.finish()
    return s


def _vrrp_script(name: str, t: _T) -> VrrpScript:
    script = t.req_str("script")
    _check_argv(t, "script", script)
    s = VrrpScript(
        name=name,
        script=script,
        interval=t.number("interval", 1.0, positive=True),
        timeout=t.number("timeout", None, positive=True),
        weight=t.integer("weight", 0, -253, 253),
        rise=t.integer("rise", 1, 1, 1000),
        fall=t.integer("fall", 1, 1, 1000),
        user=t.text("user", None),
    )
    t.finish()
    return s


def _check_argv(t: _T, key: str, text: str) -> None:
    if not text:
        return
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        t.err(key, f"cannot split into arguments: {exc}", "check the quotes")
        return
    if not argv:
        t.err(key, "empty command")


def _notify(t: _T) -> dict[str, Any]:
    return {
        k: t.text(k, None, nonempty=True)
        for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")
    }


def _sync_group(name: str, t: _T) -> VrrpSyncGroup:
    if not t.has("group"):
        t.err(None, "missing required key `group`", 'list the instances: group = ["name"]')
    g = VrrpSyncGroup(
        name=name, group=t.str_list("group"), smtp_alert=t.flag("smtp_alert", None), **_notify(t)
    )
    t.finish()
    return g


def _instance(name: str, t: _T, gd: GlobalDefs) -> VrrpInstance:
    interface = t.req_str("interface")
    if not t.has("virtual_router_id"):
        t.err(None, "missing required key `virtual_router_id`", "add virtual_router_id = 1..255")
    vrid = t.integer("virtual_router_id", 1, 1, 255)
    version = t.integer("version", gd.vrrp_version, 2, 3)
    advert = t.number("advert_int", 1.0, positive=True)
    if t.has("advert_int") and advert > 0:
        if version == 3 and (advert > 40.95 or abs(advert * 100 - round(advert * 100)) > 1e-6):
            t.err(
                "advert_int",
                f"VRRPv3 adverts go in steps of 0.01 s up to 40.95 s, got {advert}",
                "e.g. advert_int = 0.1",
            )
            advert = 1.0
        elif version == 2 and (advert != int(advert) or not 1 <= advert <= 255):
            t.err(
                "advert_int",
                f"VRRPv2 adverts are whole seconds from 1 to 255, got {advert}",
                "use version = 3 for sub-second adverts",
            )
            advert = 1.0
    auth_type, auth_pass = None, ""
    at = t.sub("authentication")
    if at is not None:
        auth_type = at.choice("auth_type", AuthType, AuthType.PASS)
        if not at.has("auth_type"):
            at.err(None, "missing required key `auth_type`", 'auth_type = "PASS"')
        auth_pass = at.text("auth_pass", "")
        if not auth_pass and at.has("auth_type"):
            at.err(None, "missing required key `auth_pass`", 'auth_pass = "secret" (8 chars max)')
        elif len(auth_pass) > _PASS_MAX:
            at.err(
                "auth_pass",
                f"at most {_PASS_MAX} characters (VRRP carries 8 bytes), got {len(auth_pass)}",
            )
        at.finish()
        if version == 3:
            t.err("authentication", "VRRPv3 has no authentication", "remove it, or use version = 2")
    state = VrrpState.BACKUP
    name_, value = t.raw("state")
    if isinstance(value, str) and value.upper() == "SLAVE":
        t.err(name_, "SLAVE is not a VRRP state", 'use state = "BACKUP"')
    else:
        state = t.choice("state", VrrpState, VrrpState.BACKUP)
    inst = VrrpInstance(
        name=name,
        interface=interface,
        virtual_router_id=vrid,
        state=state,
        priority=t.integer("priority", DEFAULT_PRIORITY, 1, 255),
        advert_int=advert,
        version=version,
        auth_type=auth_type,
        auth_pass=auth_pass,
        virtual_ipaddress=_advertised_vips(t, version),
        virtual_ipaddress_excluded=_vips(t, "virtual_ipaddress_excluded"),
        nopreempt=t.flag("nopreempt", False),
        preempt_delay=t.number("preempt_delay", 0.0, 0, 1000),
        unicast_src_ip=t.ip("unicast_src_ip"),
        unicast_peer=_ip_list(t, "unicast_peer"),
        track_interface=t.str_list("track_interface"),
        track_script=t.str_list("track_script"),
        smtp_alert=t.flag("smtp_alert", None),
        garp_master_delay=t.number("garp_master_delay", DEFAULT_GARP_MASTER_DELAY, 0, 3600),
        garp_master_repeat=t.integer("garp_master_repeat", DEFAULT_GARP_MASTER_REPEAT, 0, 1000),
        garp_master_refresh=t.number("garp_master_refresh", 0.0, 0, 86400),
        garp_master_refresh_repeat=t.integer("garp_master_refresh_repeat", 1, 1, 1000),
        **_notify(t),
    )
    t.finish()
    return inst


def _ip_list(t: _T, key: str) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(t.str_list(key)):
        ip = _check_ip(t.ctx, (*t.at(key), i), item, None)
        if ip is not None:
            out.append(ip)
    return tuple(out)


def _advertised_vips(t: _T, version: int) -> tuple[VipAddress, ...]:
    """virtual_ipaddress goes in the adverts: one address family, and IPv6 needs VRRPv3."""
    vips = _vips(t, "virtual_ipaddress")
    if not vips:
        return vips
    family = vips[0].family
    for i, vip in enumerate(vips):
        if vip.family != family:
            t.ctx.err(
                (*t.at("virtual_ipaddress"), i),
                f"{vip.address} is IPv{vip.family} but this instance advertises "
                f"IPv{family} addresses: VRRP runs one instance per address family",
                "move it to virtual_ipaddress_excluded, or to an instance of its own",
            )
            break
    if family == 6 and version == 2:
        t.err(
            "virtual_ipaddress",
            "VRRPv2 carries IPv4 addresses only",
            "set version = 3 for IPv6 addresses",
        )
    return vips


def _vips(t: _T, key: str) -> tuple[VipAddress, ...]:
    name, value = t.raw(key)
    if value is _MISSING:
        return ()
    if not isinstance(value, list):
        value = [value]
    out = []
    for i, item in enumerate(value):
        path = (*t.path, name, i)
        try:
            if isinstance(item, str):
                out.append(parse_vip(item))
            elif isinstance(item, dict):
                vt = _T(t.ctx, item, path)
                addr = vt.req_str("address")
                vip = parse_vip(addr) if addr else None
                extra = {k: vt.text(k, None, nonempty=True) for k in ("dev", "label", "scope")}
                brd = vt.ip("broadcast")
                vt.finish()
                if vip is not None:
                    out.append(replace(vip, broadcast=brd, **{k: v for k, v in extra.items() if v}))
            else:
                t.ctx.err(path, f"expected an address string or table, got {_kind(item)}")
        except ValueError as exc:
            t.ctx.err(
                path,
                f"bad virtual address {_show(item)}: {exc}",
                'e.g. "192.0.2.9", "192.0.2.9/24 dev eth0 label eth0:1"',
            )
    return tuple(out)


# --- virtual servers ------------------------------------------------------------------------------


def _virtual_server(t: _T) -> VirtualServer:
    fwmark = t.integer("fwmark", None, 1, 0xFFFFFFFF)
    has_ip = t.has("ip")
    ip = t.ip("ip")
    port = 0
    family = 4
    if fwmark is not None or t.has("fwmark"):
        if has_ip:
            t.err("fwmark", "a virtual server has either `ip` + `port` or `fwmark`, not both")
        if t.has("port"):
            t.err("port", "a fwmark service has no port (the firewall mark selects packets)")
        t.integer("port", 0)
        family = t.integer("family", 4, 4, 6)
        if family not in (4, 6):
            t.err("family", f"expected 4 or 6, got {family}")
            family = 4
    else:
        if not has_ip:
            t.err(
                None, "missing `ip` (with `port`) or `fwmark`", 'add ip = "192.0.2.9" and port = 80'
            )
        if not t.has("port"):
            t.err(None, "missing required key `port`", "add port = 80")
        port = t.integer("port", 0, 0, 65535)
        if ip is not None:
            family = 6 if ":" in ip else 4
        if t.has("family"):
            fam = t.integer("family", family)
            if fam != family:
                t.err("family", f"family {fam} does not match the address {ip}")
    protocol = t.choice("protocol", Protocol, Protocol.TCP)
    lb_algo = _scheduler(t)
    lb_flags = _flags(t, lb_algo, protocol)
    lb_kind = t.choice("lb_kind", LbKind, LbKind.NAT)
    persistence = None
    _pname, pval = t.raw("persistence_timeout")
    if pval is True:
        persistence = DEFAULT_PERSISTENCE_TIMEOUT
    elif pval is not False and pval is not _MISSING:
        persistence = t.integer("persistence_timeout", None, 1, 2**31 - 1)
    if fwmark is None and t.has("port") and port == 0 and persistence is None:
        # port 0 is IPVS's "every port", which only means something with persistence
        # (ipvsadm refuses it too: "Zero port specified for non-persistent service")
        t.err(
            "port",
            "port 0 (every port) needs persistence_timeout",
            "give the service's port, or set persistence_timeout for an all-ports service",
        )
    gran = t.text("persistence_granularity", None)
    if gran is not None and not _is_netmask(gran):
        t.err(
            "persistence_granularity",
            f"expected a netmask, got {gran!r}",
            'e.g. "255.255.255.0" or "/24"',
        )
        gran = None
    sorry = None
    st = t.sub("sorry_server")
    if st is not None:
        sorry = SorryServer(
            ip=st.ip("ip", "", required=True),
            port=st.integer("port", port, 0, 65535),
            lb_kind=st.choice("lb_kind", LbKind, None),
            inhibit_on_failure=st.flag("inhibit_on_failure", False),
        )
        kind = sorry.lb_kind or lb_kind
        if kind in (LbKind.DR, LbKind.TUN) and port and sorry.port != port:
            st.err(
                "port",
                f"{kind.value} cannot change the port: the virtual server is on port {port}, "
                f"the sorry server on {sorry.port}",
                f'use port = {port}, or lb_kind = "NAT" (here or for the service)',
            )
        st.finish()
    vs = VirtualServer(
        ip=ip,
        port=port,
        protocol=protocol,
        fwmark=fwmark,
        family=family,
        delay_loop=t.number("delay_loop", DEFAULT_DELAY_LOOP, positive=True),
        lb_algo=lb_algo,
        lb_flags=lb_flags,
        lb_kind=lb_kind,
        persistence_timeout=persistence,
        persistence_granularity=gran,
        virtualhost=t.text("virtualhost", None, nonempty=True),
        quorum=t.integer("quorum", 1, 0),
        hysteresis=t.integer("hysteresis", 0, 0),
        quorum_up=t.text("quorum_up", None, nonempty=True),
        quorum_down=t.text("quorum_down", None, nonempty=True),
        sorry_server=sorry,
        inhibit_on_failure=t.flag("inhibit_on_failure", False),
        alpha=t.flag("alpha", False),
        omega=t.flag("omega", False),
        ha_suspend=t.flag("ha_suspend", False),
        smtp_alert=t.flag("smtp_alert", None),
        name=t.text("name", None, nonempty=True),
        proxy_protocol=t.integer("proxy_protocol", 0, 0, 2),
        app_hash=t.flag("app_hash", False),
        udp_idle_timeout=t.number("udp_idle_timeout", 300.0, positive=True),
    )
    for key in ("quorum_up", "quorum_down"):
        _check_argv(t, key, t.text(key, ""))
    reals = []
    seen: dict[tuple[str, int], int] = {}
    for i, rt in enumerate(t.subs("real_server")):
        rs = _real_server(rt, vs)
        ident = (rs.ip, rs.port)
        if rs.ip and ident in seen:
            rt.err(
                "ip",
                f"duplicate real server {rs.ip}:{rs.port} (also real_server[{seen[ident]}])",
                "each real server appears once per virtual server",
            )
        seen.setdefault(ident, i)
        reals.append(rs)
    t.finish()
    return replace(vs, real_servers=tuple(reals))


def _scheduler(t: _T) -> str:
    name, value = t.raw("lb_algo")
    if value is _MISSING:
        return _DEFAULT_ALGO
    if not isinstance(value, str):
        t.err(name, f"expected a scheduler name, got {_kind(value)}")
        return _DEFAULT_ALGO
    algo = value.strip().lower()
    dp = t.ctx.dataplane
    allowed = {
        DataplaneKind.IPVS: KERNEL_SCHEDULERS,
        DataplaneKind.USERSPACE: USERSPACE_SCHEDULERS,
        DataplaneKind.AUTO: KERNEL_SCHEDULERS | USERSPACE_SCHEDULERS,
    }[dp]
    if algo not in allowed:
        where = "" if dp is DataplaneKind.AUTO else f' with dataplane = "{dp.value}"'
        guess = _did_you_mean(algo, sorted(allowed))
        t.err(
            name,
            f"unknown scheduler {value!r}{where}",
            f"{guess} schedulers: {' '.join(sorted(allowed))}".strip(),
        )
        return _DEFAULT_ALGO
    return algo


def _flags(t: _T, algo: str, protocol: Protocol) -> frozenset[str]:
    flags = t.str_list("lb_flags")
    out = set()
    for i, flag in enumerate(flags):
        path = (*t.at("lb_flags"), i)
        if flag == "ops":
            if protocol is not Protocol.UDP:
                t.ctx.err(path, "one-packet scheduling (ops) applies to UDP services only")
                continue
        elif flag not in SCHEDULER_FLAGS:
            t.ctx.err(
                path,
                f"unknown scheduler flag {flag!r}",
                _did_you_mean(flag, [*SCHEDULER_FLAGS, "ops"])
                or f"flags: {', '.join([*SCHEDULER_FLAGS, 'ops'])}",
            )
            continue
        elif algo not in SCHEDULER_FLAGS[flag]:
            t.ctx.err(
                path,
                f"flag {flag!r} is for the {'/'.join(sorted(SCHEDULER_FLAGS[flag]))} scheduler, "
                f"not {algo!r}",
            )
            continue
        out.add(flag)
    return frozenset(out)


def _is_netmask(text: str) -> bool:
    s = text.strip().lstrip("/")
    if s.isdigit():
        return 0 <= int(s) <= 128
    try:
        ipaddress.ip_network(f"0.0.0.0/{s}")
    except ValueError:
        return False
    return True


def _real_server(t: _T, vs: VirtualServer) -> RealServer:
    ip = t.ip("ip", "", required=True)
    fw = vs.fwmark is not None
    # port 0: a fwmark or all-ports service's real server keeps the packet's port
    port = t.integer("port", vs.port, 0 if fw or vs.port == 0 else 1, 65535)
    if not t.has("port") and not fw and vs.port == 0:
        t.err(None, "missing required key `port`")
    lb_kind = t.choice("lb_kind", LbKind, None)
    kind = lb_kind or vs.lb_kind
    if kind in (LbKind.DR, LbKind.TUN) and not fw and vs.port and port != vs.port:
        t.err(
            "port",
            f"{kind.value} cannot change the port: the virtual server is on port {vs.port}, "
            f"this real server on {port}",
            f'use port = {vs.port}, or lb_kind = "NAT" to translate ports',
        )
    if ip and vs.ip and (":" in ip) != (":" in vs.ip) and kind is not LbKind.TUN:
        t.err("ip", f"address family of {ip} differs from the virtual server's {vs.ip}")
    checks: list[Check] = []
    for key, make in _CHECKS.items():
        for ct in t.subs(key):
            check = make(ct)
            if check is not None:
                checks.append(check)
    rs = RealServer(
        ip=ip,
        port=port,
        weight=t.integer("weight", DEFAULT_WEIGHT, 0, 65535),
        lb_kind=lb_kind,
        inhibit_on_failure=t.flag("inhibit_on_failure", None),
        notify_up=t.text("notify_up", None, nonempty=True),
        notify_down=t.text("notify_down", None, nonempty=True),
        smtp_alert=t.flag("smtp_alert", None),
        uthreshold=t.integer("uthreshold", 0, 0),
        lthreshold=t.integer("lthreshold", 0, 0),
        checks=sort_checks(checks),
    )
    t.finish()
    return rs


def _common(t: _T, *, ports: bool = True, connect: bool = True) -> CheckCommon:
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


def _tcp(t: _T) -> Check:
    c = TcpCheck(common=_common(t))
    t.finish()
    return c


def _ping(t: _T) -> Check:
    c = PingCheck(common=_common(t, ports=False))
    t.finish(dict.fromkeys(("connect_port", "bind_port"), "a ping has no port"))
    return c


def _misc(t: _T) -> Check | None:
    path = t.req_str("misc_path")
    _check_argv(t, "misc_path", path)
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


def _http(t: _T, tls: bool) -> Check | None:
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
        if value is not _MISSING:
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


_CHECKS: dict[str, Callable[[_T], Check | None]] = {
    "tcp_check": _tcp,
    "http_get": lambda t: _http(t, False),
    "ssl_get": lambda t: _http(t, True),
    "misc_check": _misc,
    "ping_check": _ping,
}


# --- relations between tables ----------------------------------------------------------


def _cross_checks(ctx: _Ctx, cfg: Config) -> None:
    names = {i.name for i in cfg.vrrp_instances}
    owner: dict[str, str] = {}
    for g in cfg.vrrp_sync_groups:
        for i, member in enumerate(g.group):
            path: KeyPath = ("vrrp_sync_group", g.name, "group", i)
            if member not in names:
                ctx.err(
                    path,
                    f"sync group member {member!r} is not a vrrp_instance",
                    _did_you_mean(member, sorted(names)) or "define [vrrp_instance.NAME] first",
                )
            elif member in owner:
                ctx.err(path, f"instance {member!r} is already in sync group {owner[member]!r}")
            else:
                owner[member] = g.name
    scripts = {s.name for s in cfg.vrrp_scripts}
    for inst in cfg.vrrp_instances:
        for i, name in enumerate(inst.track_script):
            if name not in scripts:
                ctx.err(
                    ("vrrp_instance", inst.name, "track_script", i),
                    f"unknown vrrp_script {name!r}",
                    _did_you_mean(name, sorted(scripts)) or "define it as [vrrp_script.NAME]",
                )
    sync = cfg.global_defs.lvs_sync_daemon
    if sync is not None and sync.instance and sync.instance not in names:
        ctx.err(
            ("global_defs", "lvs_sync_daemon", "instance"),
            f"unknown vrrp_instance {sync.instance!r}",
            _did_you_mean(sync.instance, sorted(names)) or "name one of the [vrrp_instance.NAME]",
        )
    seen: dict[tuple[object, ...], int] = {}
    for i, vs in enumerate(cfg.virtual_servers):
        ident: tuple[object, ...] = (
            ("fwmark", vs.fwmark, vs.family)
            if vs.fwmark is not None
            else (vs.protocol, vs.ip, vs.port)
        )
        if vs.fwmark is None and vs.ip is None:
            continue
        if ident in seen:
            ctx.err(
                ("virtual_server", i, "fwmark" if vs.fwmark is not None else "ip"),
                f"duplicate virtual server {vs.label} (also virtual_server[{seen[ident]}])",
            )
        else:
            seen[ident] = i
