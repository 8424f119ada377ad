"""Import keepalived.conf: its syntax in, our TOML data (and a validated Config) out.

Three steps, each small:

1. `tokenize`: words, double-quoted strings, `{` and `}`, with `!`/`#` comments removed and
   `include GLOB` lines replaced by the included files' tokens (globs relative to the
   including file, like keepalived). Every token remembers its file and line.
2. `parse`: tokens → a tree of `Node(key, args, children)`. A statement is a line; a `{`
   that follows it (same line or the next, as in the tutorial's `HTTP_GET` / `{`) opens its
   block. A `}` with no open block is an error naming its line: the tutorial's
   virtual_server example has one.
3. `to_toml_data`: the tree → the dict that config.toml would parse to, plus a map from our
   key paths back to keepalived lines, so validation errors (done once, by
   `lvstui.config.load`) point into keepalived.conf. Directives we do not support become
   notes with their line; nothing is dropped silently.
"""

from __future__ import annotations

import glob
import ipaddress
import math
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lvstui.config.load import ConfigErrors, decode_text, load_config_data, read_config_text
from lvstui.config.locate import KeyPath, format_key
from lvstui.config.schema import Config, VrrpInstance
from lvstui.errors import ConfigError

__all__ = [
    "ImportNote",
    "ImportResult",
    "Node",
    "Token",
    "default_config_id",
    "import_keepalived",
    "import_keepalived_text",
    "parse",
    "to_toml_data",
    "tokenize",
]

_MAX_INCLUDE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    file: str
    line: int
    quoted: bool = False

    @property
    def brace(self) -> str:
        return "" if self.quoted or self.text not in ("{", "}") else self.text


@dataclass(slots=True)
class Node:
    key: str
    args: list[str]
    file: str
    line: int
    children: list[Node] | None = None  # None: no block
    quoted: list[bool] = field(default_factory=list)  # per arg: was it a "quoted string"


@dataclass(frozen=True, slots=True)
class ImportNote:
    """Something the operator must know: an unsupported directive, a changed value."""

    file: str
    line: int
    directive: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.directive}: {self.message}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    data: dict[str, Any]  # what config.toml would parse to
    config: Config
    notes: tuple[ImportNote, ...]


# --- 1. tokens -------------------------------------------------------------------------------

_WORD = re.compile(r'"((?:[^"\\]|\\.)*)"|([{}])|([^\s{}"!#]+)|([!#])')


def tokenize(
    text: str,
    file: str = "<string>",
    _depth: int = 0,
    *,
    config_id: str | None = None,
    skipped: list[ImportNote] | None = None,
) -> list[Token]:
    """Words, quoted strings and braces. keepalived's conditional lines (`@ID directive`,
    `@^ID directive`) are kept when they are for `config_id` (keepalived's `-i ID`) and
    dropped otherwise (the line only, as keepalived does); each dropped line is added to
    `skipped` as a note."""
    tokens: list[Token] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line_tokens = _line_tokens(raw, file, lineno)
        if line_tokens and line_tokens[0].text.startswith("@") and not line_tokens[0].quoted:
            tag = line_tokens[0].text[1:]
            wanted = tag[1:] != config_id if tag.startswith("^") else tag == config_id
            if not wanted:
                # Only the line goes, as in keepalived: two alternative block headers
                # (`@lb1 real_server A 80 {` / `@lb2 real_server B 80 {`) share one body.
                if skipped is not None:
                    whose = f"every config id but {tag[1:]!r}" if tag.startswith("^") else repr(tag)
                    skipped.append(
                        ImportNote(
                            file,
                            lineno,
                            line_tokens[0].text,
                            f"for {whose}, and this import is for {config_id!r} (keepalived's "
                            "-i): line skipped",
                        )
                    )
                continue
            line_tokens = line_tokens[1:]
        if line_tokens and line_tokens[0].text == "include" and not line_tokens[0].quoted:
            tokens.extend(_include(line_tokens, file, lineno, _depth, config_id, skipped))
        else:
            tokens.extend(line_tokens)
    return tokens


def _line_tokens(raw: str, file: str, lineno: int) -> list[Token]:
    line_tokens: list[Token] = []
    pos = 0
    while pos < len(raw):
        if raw[pos].isspace():
            pos += 1
            continue
        m = _WORD.match(raw, pos)
        if m is None:  # an unterminated quote
            raise ConfigError(
                "unterminated quoted string", file=file, line=lineno, hint='close it with "'
            )
        if m.group(4):  # a comment runs to the end of the line
            break
        if m.group(1) is not None:
            line_tokens.append(Token(m.group(1).replace('\\"', '"'), file, lineno, True))
        else:
            line_tokens.append(Token(m.group(2) or m.group(3), file, lineno))
        pos = m.end()
    return line_tokens


def _include(
    line_tokens: list[Token],
    file: str,
    lineno: int,
    depth: int,
    config_id: str | None,
    skipped: list[ImportNote] | None,
) -> list[Token]:
    if len(line_tokens) != 2:
        raise ConfigError("include takes one file name or glob", file=file, line=lineno)
    if depth >= _MAX_INCLUDE_DEPTH:
        raise ConfigError(
            f"includes nested deeper than {_MAX_INCLUDE_DEPTH} levels (a loop?)",
            file=file,
            line=lineno,
        )
    pattern = line_tokens[1].text
    base = Path(file).parent if file != "<string>" else Path.cwd()
    full = pattern if os.path.isabs(pattern) else str(base / pattern)
    out: list[Token] = []
    names = sorted(glob.glob(full))
    if not names:
        # keepalived goes on ("Config files missing"): so do we, but leave a directive the
        # mapping step turns into a note, so the operator sees it
        return [Token("include", file, lineno), Token(pattern, file, lineno, quoted=True)]
    for name in names:
        try:
            text = decode_text(Path(name).read_bytes(), name)
        except OSError as exc:
            raise ConfigError(
                f"cannot read included file {name}: {exc.strerror or exc}", file=file, line=lineno
            ) from None
        out.extend(tokenize(text, name, depth + 1, config_id=config_id, skipped=skipped))
    return out


# --- 2. tree -----------------------------------------------------------------------------------


def parse(tokens: list[Token]) -> list[Node]:
    root: list[Node] = []
    stack: list[tuple[list[Node], Node | None]] = [(root, None)]
    last_closed: Node | None = None
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        body = stack[-1][0]
        if tok.brace == "}":
            opener = stack[-1][1]
            if opener is None:
                hint = "remove this brace"
                if last_closed is not None:
                    hint = (
                        f"the `{last_closed.key}` block opened at line {last_closed.line} "
                        "is already closed; remove this brace"
                    )
                raise ConfigError(
                    "unexpected `}`: no block is open here", file=tok.file, line=tok.line, hint=hint
                )
            stack.pop()
            if len(stack) == 1:
                last_closed = opener
            i += 1
            continue
        if tok.brace == "{":
            raise ConfigError(
                "`{` without a directive before it",
                file=tok.file,
                line=tok.line,
                hint="a block starts with its name: `real_server 192.0.2.1 80 {`",
            )
        j = i + 1
        args: list[str] = []
        quoted: list[bool] = []
        while (
            j < n
            and tokens[j].line == tok.line
            and tokens[j].file == tok.file
            and not tokens[j].brace
        ):
            args.append(tokens[j].text)
            quoted.append(tokens[j].quoted)
            j += 1
        node = Node(tok.text, args, tok.file, tok.line, quoted=quoted)
        body.append(node)
        if j < n and tokens[j].brace == "{":
            node.children = []
            stack.append((node.children, node))
            j += 1
        i = j
    if len(stack) > 1:
        opener = stack[-1][1]
        assert opener is not None
        raise ConfigError(
            f"the `{opener.key}` block opened here is never closed",
            file=opener.file,
            line=opener.line,
            hint="add the missing `}`",
        )
    return root


# --- 3. mapping -----------------------------------------------------------------------------------


class _Out:
    """The TOML data being built, the key-path → line map, and the notes."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.lines: dict[KeyPath, tuple[str, int]] = {}
        self.notes: list[ImportNote] = []
        self._seen: set[ImportNote] = set()
        self.groups: dict[str, Node] = {}  # virtual_server_group NAME -> its block
        self.groups_used: set[str] = set()
        # track_script NAME weight N: script -> [(instance, weight, node)]
        self.track_weights: dict[str, list[tuple[str | int, int, Node]]] = {}
        # checker defaults set on a virtual_server or real_server: path -> key -> (value, node)
        self.defaults: dict[KeyPath, dict[str, tuple[Any, Node]]] = {}
        # global_defs vrrp_garp_master_*: instance key -> (value, node), for every instance
        self.garp_defaults: dict[str, tuple[Any, Node]] = {}

    def note(self, node: Node, message: str, where: str = "") -> None:
        note = ImportNote(node.file, node.line, where or node.key, message)
        if note not in self._seen:  # a group's block is read once per entry: say it once
            self._seen.add(note)
            self.notes.append(note)

    def unsupported(self, node: Node, where: str) -> None:
        if node.key == "include":
            self.note(node, f"{_text(node.args)!r} matches no file: nothing included")
            return
        reason = _WHY_NOT.get(node.key, "")
        self.note(
            node,
            f"not supported by lvstui; left out{f' ({reason})' if reason else ''}",
            f"{where}{node.key}",
        )

    def mark(self, path: KeyPath, node: Node) -> None:
        self.lines.setdefault(path, (node.file, node.line))


def _number(text: str, integer: bool) -> Any:
    try:
        return (
            int(text) if integer else (int(text) if re.fullmatch(r"-?\d+", text) else float(text))
        )
    except ValueError:
        return text  # the loader reports "expected a number" with this line


def _flag(args: list[str]) -> Any:
    if not args:
        return True
    word = args[0].lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    return args[0]


def _text(args: list[str]) -> str:
    return " ".join(args)


# Directives whose value is a command line.
_COMMANDS = {
    "script",
    "misc_path",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_up",
    "notify_down",
    "quorum_up",
    "quorum_down",
}
_SHELL = re.compile(r"[|;&<>`]|\$\(")


def _command(out: _Out, node: Node) -> str:
    """A command directive as keepalived 2 reads it: the first word (a quoted string, or one
    bare word) is the command line; after it, notify and quorum commands take the user (and
    group) to run as, and `script` / `misc_path` ignore the rest. keepalived 1.x took the
    whole line instead, and configs of that era rely on it, so an unquoted command followed
    by more words is imported whole, with a note saying what keepalived 2 makes of it."""
    args = node.args
    if len(args) <= 1:
        return _text(args)
    runs_as = node.key not in ("script", "misc_path")
    if node.quoted[:1] == [True]:
        if runs_as:
            out.note(
                node,
                f"runs as user {_text(args[1:])!r} in keepalived; lvstui has no per-command "
                "user for this directive: it runs as lvstui's user",
            )
        else:
            out.note(
                node, f"keepalived ignores the words after the quoted command: {_text(args[1:])}"
            )
        return args[0]
    what = (
        f"runs {args[0]!r} as user {_text(args[1:])!r} (and skips the command when no such "
        "user exists)"
        if runs_as
        else f"runs {args[0]!r} alone (the other words are dropped)"
    )
    out.note(
        node,
        f"unquoted command with arguments: keepalived 2 {what}; keepalived 1.x and this import "
        f'take the whole line. Quote it in keepalived.conf: "{_text(args)}"',
    )
    return _text(args)


def _shell_syntax_note(out: _Out, node: Node, command: str) -> None:
    """keepalived 2 splits a command into words and runs it without a shell, and so does
    lvstui: pipes, redirections and `;` are passed as plain arguments. Say so at import."""
    if _SHELL.search(command):
        out.note(
            node,
            "uses shell syntax, but the command runs without a shell (as in keepalived 2): "
            "write it as /bin/sh -c '...' if that is meant",
        )


def _lb_kind(out: _Out, node: Node, value: str) -> str:
    """keepalived matches NAT/DR/TUN case-sensitively: `lb_kind dr` is "unknown routing
    method" there, and the service runs as NAT; the import keeps the evident intent. TUN
    may carry a tunnel type (`TUN type gue port 6080`): lvstui tunnels with IP-in-IP."""
    words = value.split()
    if len(words) > 1 and words[0] == "TUN":
        out.note(node, f"tunnel options `{_text(words[1:])}` not supported: plain IP-in-IP TUN")
        return "TUN"
    if value != value.upper() and value.upper() in ("NAT", "DR", "TUN"):
        out.note(
            node,
            f"keepalived does not know {value!r} (only upper case) and runs this as NAT; "
            f"imported as {value.upper()}",
        )
    return value


def _sync_daemon_interface(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """keepalived 1.x's per-instance `lvs_sync_daemon_interface IF` (still read, deprecated,
    by keepalived 2): the sync daemon on IF follows this instance."""
    gd = out.data.setdefault("global_defs", {})
    if len(node.args) != 1 or "lvs_sync_daemon" in gd:
        out.note(node, "expected one interface, and one sync daemon in the whole file; left out")
        return
    gd["lvs_sync_daemon"] = {"interface": node.args[0], "instance": path[-1]}
    for key in (
        ("lvs_sync_daemon",),
        ("lvs_sync_daemon", "interface"),
        ("lvs_sync_daemon", "instance"),
    ):
        out.lines[("global_defs", *key)] = (node.file, node.line)
    out.note(
        node,
        "deprecated in keepalived 2: written as global_defs.lvs_sync_daemon "
        f"(interface {node.args[0]}, instance {path[-1]})",
    )


# value converters by kind
_Conv = Callable[[list[str]], Any]
INT: _Conv = lambda a: _number(a[0], True) if a else ""  # noqa: E731
NUM: _Conv = lambda a: _number(a[0], False) if a else ""  # noqa: E731
STR: _Conv = _text
FLAG: _Conv = _flag


def _fill(
    out: _Out,
    nodes: list[Node],
    table: dict[str, Any],
    path: KeyPath,
    simple: dict[str, _Conv],
    blocks: dict[str, Callable[[_Out, Node, dict[str, Any], KeyPath], None]],
    where: str,
) -> None:
    """Map simple `key value` directives and dispatch known blocks; note the rest."""
    for node in nodes:
        key = node.key
        if key in simple and node.children is None:
            name = _RENAME.get(key, key)
            if name in table:
                out.note(
                    node,
                    f"repeated; replaces line {out.lines.get((*path, name), ('', '?'))[1]}",
                )
            conv = simple[key]
            if conv is not STR and len(node.args) > 1:
                out.note(node, f"takes one value; left out: {_text(node.args[1:])}")
            table[name] = _command(out, node) if name in _COMMANDS else conv(node.args)
            out.lines[(*path, name)] = (node.file, node.line)
            if name in _COMMANDS:
                _shell_syntax_note(out, node, table[name])
            if name == "lb_kind":
                table[name] = _lb_kind(out, node, table[name])
        elif key in blocks:
            blocks[key](out, node, table, path)
        else:
            out.unsupported(node, where)


_RENAME = {"nb_get_retry": "retry", "lvs_sched": "lb_algo", "lvs_method": "lb_kind"}

# Why common keepalived directives have no lvstui equivalent, so the note helps the operator
# decide whether it matters for them.
_WHY_NOT = {
    "enable_script_security": "lvstui never runs scripts through a shell; each runs as "
    "lvstui's user, or the `user` given to it",
    "script_user": "scripts run as lvstui's user unless a script sets `user`",
    "vrrp_strict": "no strict mode: keepalived's RFC checks (no authentication, no unicast, "
    "MASTER only at priority 255) are not enforced",
    "vrrp_skip_check_adv_addr": "adverts are always checked",
    "vrrp_garp_interval": "gratuitous ARPs go out in one burst",
    "vrrp_gna_interval": "unsolicited NAs go out in one burst",
    "vrrp_min_garp": "use garp_master_repeat / garp_master_refresh on the instance",
    "lvs_id": "keepalived 1.x's name for router_id",
    "mcast_src_ip": "adverts leave from the interface's primary address",
    "nat_mask": "keepalived 2 no longer knows it either",
    "net_mask": "not a keepalived directive",
    "virtual_routes": "lvstui manages addresses, not routes",
    "virtual_rules": "lvstui manages addresses, not policy rules",
    "static_ipaddress": "lvstui manages VIPs only",
    "static_route": "lvstui manages addresses, not routes",
    "static_routes": "lvstui manages addresses, not routes",
    "dont_track_primary": "the instance's interface is always tracked",
    "SMTP_CHECK": "use a TCP_CHECK on port 25, or a MISC_CHECK",
    "DNS_CHECK": "use a MISC_CHECK running dig",
    "UDP_CHECK": "use a MISC_CHECK",
    "BFD_CHECK": "no BFD",
    "FILE_CHECK": "use a MISC_CHECK running test -f",
    "use_vmac": "no VMAC interfaces: VIPs go on the instance's interface",
}

# keepalived 2 lets these be set on a virtual_server or real_server as defaults for every
# checker below (the real server's value wins over the virtual server's); we copy them into
# each check that does not set its own, which gives the same checks.
_CHECK_DEFAULTS: dict[str, _Conv] = {
    "connect_timeout": NUM,
    "retry": INT,
    "nb_get_retry": INT,
    "delay_before_retry": NUM,
    "warmup": NUM,
}
_RS_CHECK_DEFAULTS: dict[str, _Conv] = {**_CHECK_DEFAULTS, "delay_loop": NUM, "virtualhost": STR}
_NOT_FOR_MISC = {"connect_timeout"}  # a MISC_CHECK's limit is misc_timeout


def _items(node: Node) -> list[Node]:
    """A list block `{ a \\n b }`, or the inline form `key a b`: one node per item."""
    if node.children is None:
        return [Node(a, [], node.file, node.line) for a in node.args]
    return node.children


def _list(
    out: _Out, node: Node, table: dict[str, Any], path: KeyPath, *, whole_line: bool = False
) -> None:
    if node.key in table:
        first = out.lines.get((*path, node.key), ("", "?"))[1]
        out.note(node, f"second {node.key} block: merged with the one at line {first}")
    values = table.setdefault(node.key, [])
    out.mark((*path, node.key), node)
    for item in _items(node):
        if item.children is not None:
            out.note(item, "a block inside a list; left out")
            continue
        if item.args and not whole_line:
            _list_item_words(out, node.key, item, path)
        out.lines[(*path, node.key, len(values))] = (item.file, item.line)
        values.append(_vip_words(out, item) if whole_line else item.key)


def _list_item_words(out: _Out, key: str, item: Node, path: KeyPath) -> None:
    """`eth1 weight -10` in track_interface, `chk weight 5` in track_script (keepalived 2)."""
    weight = None
    if len(item.args) in (2, 3) and item.args[0] == "weight":
        weight = _number(item.args[1], True)
    if key == "track_script" and isinstance(weight, int) and len(item.args) == 2:
        # folded into the vrrp_script's weight after the whole file is read, when that
        # gives the same result (see _track_script_weights)
        out.track_weights.setdefault(item.key, []).append((path[-1], weight, item))
        return
    if key == "track_interface" and weight is not None:
        out.note(
            item,
            f"`weight {_text(item.args[1:])}` on a tracked interface is not supported: "
            f"lvstui puts the instance in FAULT while {item.key} is down "
            "(keepalived's behaviour without a weight)",
        )
        return
    out.note(item, f"extra words after {item.key!r} not supported; left out: {_text(item.args)}")


def _track_script_weights(out: _Out) -> None:
    """keepalived 2's `track_script { NAME weight N }` overrides the script's weight for one
    instance. lvstui has one weight per script: when every instance tracking the script
    asks for the same weight, it becomes the script's weight; otherwise say what applies."""
    scripts = out.data.get("vrrp_script", {})
    instances = out.data.get("vrrp_instance", {})
    for name, uses in out.track_weights.items():
        trackers = {i for i, inst in instances.items() if name in inst.get("track_script", [])}
        weights = {w for _inst, w, _item in uses}
        overridden = {inst for inst, _w, _item in uses}
        item = uses[0][2]
        if name in scripts and len(weights) == 1 and overridden >= trackers:
            (weight,) = weights
            scripts[name]["weight"] = weight
            out.lines[("vrrp_script", name, "weight")] = (item.file, item.line)
            out.note(
                item,
                f"`weight {weight}` written as vrrp_script {name}'s weight (lvstui has one "
                "weight per script; every instance tracking it asks for this one)",
                f"track_script {name}",
            )
            continue
        for _inst, weight, use in uses:
            own = scripts.get(name, {}).get("weight", 0)
            out.note(
                use,
                f"`weight {weight}` for this instance only is not supported (instances "
                f"tracking {name} ask for different weights): the script's own weight "
                f"({own}) applies",
                f"track_script {name}",
            )


# keepalived's virtual_ipaddress options: the ones we carry, and the others (with or
# without a value) that are noted and left out rather than failing the whole address.
_VIP_KEPT = {"dev", "label", "scope", "brd", "broadcast"}
_VIP_VALUED = {"peer", "preferred_lft", "track_group"}


def _vip_words(out: _Out, item: Node) -> str:
    words = [item.key]
    rest = list(item.args)
    while rest:
        word = rest.pop(0)
        if word in _VIP_KEPT and rest:
            words += [word, rest.pop(0)]
            continue
        dropped = word
        if word in _VIP_VALUED and rest:
            dropped += " " + rest.pop(0)
        out.note(item, f"address option `{dropped}` not supported; left out")
    return " ".join(words)


# --- global_defs


def _global_defs(out: _Out, node: Node) -> None:
    table = out.data.setdefault("global_defs", {})
    path: KeyPath = ("global_defs",)
    out.mark(path, node)
    _fill(
        out,
        node.children or [],
        table,
        path,
        {
            "notification_email_from": STR,
            "router_id": STR,
            "smtp_connect_timeout": NUM,
            "smtp_alert": FLAG,
            "vrrp_version": INT,
        },
        {
            "notification_email": lambda o, n, t, p: _list(o, n, t, p),
            "smtp_server": _smtp_server,
            "lvs_sync_daemon": _sync_daemon,
            **{f"vrrp_{key}": _garp_default for key in _GARP_DEFAULTS},
        },
        "global_defs.",
    )


# keepalived's global_defs defaults for the gratuitous ARPs of every instance; lvstui has the
# same keys on each instance only, so the import writes them there.
_GARP_DEFAULTS: dict[str, _Conv] = {
    "garp_master_delay": NUM,
    "garp_master_repeat": INT,
    "garp_master_refresh": NUM,
    "garp_master_refresh_repeat": INT,
}


def _garp_default(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    key = node.key.removeprefix("vrrp_")
    if node.children is not None or len(node.args) != 1:
        out.note(node, f"expected `{node.key} VALUE`; left out")
        return
    out.garp_defaults[key] = (_GARP_DEFAULTS[key](node.args), node)


def _garp_defaults(out: _Out) -> None:
    """Carry global_defs vrrp_garp_master_* into each instance that does not set its own
    (what keepalived does with them); a value equal to lvstui's default needs nothing."""
    instances = out.data.get("vrrp_instance", {})
    defaults = {f.name: f.default for f in fields(VrrpInstance)}
    for key, (value, node) in out.garp_defaults.items():
        if value == defaults[key]:
            out.note(node, f"same as lvstui's default {key} ({value!r}); nothing to carry over")
            continue
        names = [n for n, inst in instances.items() if key not in inst]
        for name in names:
            instances[name][key] = value
            out.lines[("vrrp_instance", name, key)] = (node.file, node.line)
        if names:
            out.note(
                node,
                f"a global default in keepalived: set as `{key} = {value!r}` on each "
                f"vrrp_instance without its own ({', '.join(map(str, names))})",
            )
        else:
            out.note(node, "no vrrp_instance without its own value to carry it to; left out")


def _smtp_server(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if node.children is not None or not node.args:
        out.note(node, "expected `smtp_server HOST [PORT]`; left out")
        return
    host = node.args[0]
    if len(node.args) > 1:
        host = f"[{host}]:{node.args[1]}" if ":" in host else f"{host}:{node.args[1]}"
    table["smtp_server"] = host
    out.lines[(*path, "smtp_server")] = (node.file, node.line)


def _sync_daemon(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    args = list(node.args)
    if len(args) < 2:
        out.note(node, "expected `lvs_sync_daemon INTERFACE INSTANCE [id N] ...`; left out")
        return
    sync: dict[str, Any] = {"interface": args[0], "instance": args[1]}
    rest = args[2:]
    names = {"id": "syncid", "maxlen": "maxlen", "port": "port", "ttl": "ttl", "group": "group"}
    while rest:
        word = rest.pop(0)
        if word in names and rest:
            value = rest.pop(0)
            sync[names[word]] = value if word == "group" else _number(value, True)
        else:
            out.note(node, f"option {word!r} not supported; left out")
    table["lvs_sync_daemon"] = sync
    for key in ("lvs_sync_daemon", *[("lvs_sync_daemon", k) for k in sync]):
        out.lines[(*path, *((key,) if isinstance(key, str) else key))] = (node.file, node.line)


# --- VRRP

_NOTIFY = {
    k: STR for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")
}


def _named(out: _Out, node: Node, section: str) -> tuple[dict[str, Any], KeyPath] | None:
    if len(node.args) != 1 or node.children is None:
        out.note(node, f"expected `{section} NAME {{ ... }}`; left out")
        return None
    name = node.args[0]
    tables = out.data.setdefault(section, {})
    if name in tables:
        raise ConfigError(
            f"{section} {name!r} is defined twice",
            file=node.file,
            line=node.line,
            hint="give each one its own name",
        )
    path: KeyPath = (section, name)
    out.mark(path, node)
    tables[name] = {}
    return tables[name], path


def _vrrp_script(out: _Out, node: Node) -> None:
    got = _named(out, node, "vrrp_script")
    if got is None:
        return
    table, path = got
    _fill(
        out,
        node.children or [],
        table,
        path,
        {"script": STR, "interval": NUM, "timeout": NUM, "weight": INT, "rise": INT, "fall": INT},
        {"user": _user},
        f"vrrp_script {node.args[0]}: ",
    )


def _user(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if not node.args:
        out.note(node, "expected `user USER`; left out")
        return
    if len(node.args) > 1:
        out.note(node, f"group {node.args[1]!r} not supported (the user's own group is used)")
    table["user"] = node.args[0]
    out.lines[(*path, "user")] = (node.file, node.line)


def _sync_group(out: _Out, node: Node) -> None:
    got = _named(out, node, "vrrp_sync_group")
    if got is None:
        return
    table, path = got
    _fill(
        out,
        node.children or [],
        table,
        path,
        {**_NOTIFY, "smtp_alert": FLAG},
        {"group": lambda o, n, t, p: _list(o, n, t, p)},
        f"vrrp_sync_group {node.args[0]}: ",
    )


def _state(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    value = _text(node.args)
    if value.upper() == "SLAVE":
        out.note(node, "`state SLAVE` means BACKUP (the tutorial's wording); written as BACKUP")
        value = "BACKUP"
    table["state"] = value
    out.lines[(*path, "state")] = (node.file, node.line)


def _authentication(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    auth: dict[str, Any] = {}
    table["authentication"] = auth
    p = (*path, "authentication")
    out.mark(p, node)
    _fill(
        out,
        node.children or [],
        auth,
        p,
        {"auth_type": STR, "auth_pass": STR},
        {},
        "authentication.",
    )
    if "auth_type" in auth and not auth.get("auth_pass"):
        # keepalived: "Authentication specified but no password given. Ignoring"
        del table["authentication"]
        out.note(
            node,
            "no auth_pass: keepalived ignores this authentication block, so does the import",
        )
        return
    if isinstance(auth.get("auth_pass"), str) and len(auth["auth_pass"]) > 8:
        out.note(
            node, "auth_pass is longer than 8 characters; keepalived uses the first 8, so do we"
        )
        auth["auth_pass"] = auth["auth_pass"][:8]


def _vrrp_instance(out: _Out, node: Node) -> None:
    got = _named(out, node, "vrrp_instance")
    if got is None:
        return
    table, path = got
    lists = {
        key: (lambda o, n, t, p, w=whole: _list(o, n, t, p, whole_line=w))
        for key, whole in (
            ("virtual_ipaddress", True),
            ("virtual_ipaddress_excluded", True),
            ("unicast_peer", False),
            ("track_interface", False),
            ("track_script", False),
        )
    }
    _fill(
        out,
        node.children or [],
        table,
        path,
        {
            **_NOTIFY,
            "interface": STR,
            "virtual_router_id": INT,
            "priority": INT,
            "advert_int": NUM,
            "version": INT,
            "nopreempt": FLAG,
            "preempt_delay": NUM,
            "unicast_src_ip": STR,
            "smtp_alert": FLAG,
            "garp_master_delay": NUM,
            "garp_master_repeat": INT,
            "garp_master_refresh": NUM,
            "garp_master_refresh_repeat": INT,
        },
        {
            **lists,
            "state": _state,
            "authentication": _authentication,
            "lvs_sync_daemon_interface": _sync_daemon_interface,
        },
        f"vrrp_instance {node.args[0]}: ",
    )


# --- LVS

_CHECK_COMMON = {
    "connect_ip": STR,
    "connect_port": INT,
    "connect_timeout": NUM,
    "bindto": STR,
    "bind_port": INT,
    "retry": INT,
    "nb_get_retry": INT,
    "delay_before_retry": NUM,
    "warmup": NUM,
    "delay_loop": NUM,
}
_CHECK_KINDS = {
    "TCP_CHECK": "tcp_check",
    "HTTP_GET": "http_get",
    "SSL_GET": "ssl_get",
    "MISC_CHECK": "misc_check",
    "PING_CHECK": "ping_check",
}


def _virtual_server(out: _Out, node: Node) -> None:
    args = node.args
    if node.children is None:
        out.note(node, "expected a block `virtual_server IP PORT { ... }`; left out")
        return
    if len(args) == 2 and args[0] == "fwmark":
        _one_virtual_server(out, node, {"fwmark": _number(args[1], True)}, node)
    elif len(args) == 2 and args[0] == "group":
        _group_virtual_servers(out, node, args[1])
    elif len(args) == 2:
        _one_virtual_server(out, node, {"ip": args[0], "port": _number(args[1], True)}, node)
    elif len(args) == 1:
        out.note(
            node,
            "a service without a port (keepalived's all-ports persistent service) is not "
            "supported; block left out (a fwmark service does the same)",
        )
    else:
        out.note(
            node,
            "expected `virtual_server IP PORT`, `virtual_server fwmark N` or "
            "`virtual_server group NAME`; block left out",
        )


# A group is expanded into one service per entry; a range of 256 addresses is keepalived's
# own limit for one entry (the last byte), and a cap on the total keeps a typo from
# generating thousands of services.
_MAX_GROUP_SERVICES = 1024


def _group_virtual_servers(out: _Out, node: Node, name: str) -> None:
    group = out.groups.get(name)
    if group is None:
        known = ", ".join(sorted(out.groups)) or "none is defined"
        out.note(node, f"unknown virtual_server_group {name!r} ({known}); block left out")
        return
    out.groups_used.add(name)
    out.lines.setdefault(("virtual_server_group", name), (group.file, group.line))
    idents: list[tuple[dict[str, Any], Node]] = []
    for entry in group.children or []:
        idents.extend(_group_entry(out, entry))
    if len(idents) > _MAX_GROUP_SERVICES:
        out.note(
            group,
            f"expands to {len(idents)} services, more than {_MAX_GROUP_SERVICES}; group left out",
        )
        return
    if not idents:
        out.note(node, f"virtual_server_group {name!r} has no usable entry; block left out")
        return
    out.note(
        node,
        f"virtual_server_group {name!r} expanded into {len(idents)} virtual servers with "
        "this block's settings (lvstui checks each real server once per service)",
        "virtual_server group",
    )
    for ident, entry in idents:
        _one_virtual_server(out, node, ident, entry)


def _group_entry(out: _Out, entry: Node) -> list[tuple[dict[str, Any], Node]]:
    """`IP PORT`, `IP-LAST PORT` (a range on the last byte, or last 16 bits for IPv6), or
    `fwmark N` → the identities of the services it stands for."""
    words = [entry.key, *entry.args]
    if entry.children is not None:
        out.note(entry, "a block inside virtual_server_group; left out")
        return []
    if words[0] == "fwmark":
        if len(words) != 2:
            out.note(entry, "expected `fwmark N`; left out")
            return []
        return [({"fwmark": _number(words[1], True)}, entry)]
    if len(words) != 2:
        out.note(entry, "expected `IP PORT` or `IP-LAST PORT` (keepalived's range form); left out")
        return []
    first, dash, last = words[0].rpartition("-") if "-" in words[0] else (words[0], "", "")
    port = _number(words[1], True)
    if not dash:
        return [({"ip": words[0], "port": port}, entry)]
    try:
        start = ipaddress.ip_address(first)
        if start.version == 4:
            stop_part = int(last)
            shift = 8
        else:
            stop_part = int(last, 16)
            shift = 16
    except ValueError:
        out.note(entry, f"bad address range {words[0]!r}; left out")
        return []
    low = int(start) & ((1 << shift) - 1)
    if not low <= stop_part < (1 << shift):
        out.note(entry, f"range {words[0]!r} ends below its start; left out")
        return []
    base = int(start) - low
    return [
        ({"ip": str(ipaddress.ip_address(base + n)), "port": port}, entry)
        for n in range(low, stop_part + 1)
    ]


def _one_virtual_server(out: _Out, node: Node, ident: dict[str, Any], where: Node) -> None:
    """One service from a `virtual_server` block; `ident` (ip+port or fwmark) and its line
    `where` come from the block's own line or from a virtual_server_group entry."""
    assert node.children is not None
    vss = out.data.setdefault("virtual_server", [])
    path: KeyPath = ("virtual_server", len(vss))
    table: dict[str, Any] = dict(ident)
    vss.append(table)
    out.mark(path, node)
    for key in table:
        out.lines[(*path, key)] = (where.file, where.line)
    defaults = {k: (lambda o, n, t, p: _check_default(o, n, p)) for k in _CHECK_DEFAULTS}
    _fill(
        out,
        node.children,
        table,
        path,
        {
            "delay_loop": NUM,
            "lb_algo": STR,
            "lvs_sched": STR,
            "lb_kind": STR,
            "lvs_method": STR,
            "protocol": STR,
            "persistence_granularity": STR,
            "virtualhost": STR,
            "quorum": INT,
            "hysteresis": INT,
            "quorum_up": STR,
            "quorum_down": STR,
            "inhibit_on_failure": FLAG,
            "alpha": FLAG,
            "omega": FLAG,
            "ha_suspend": FLAG,
            "smtp_alert": FLAG,
        },
        {
            **defaults,
            "persistence_timeout": _persistence,
            "sorry_server": _sorry_server,
            "sorry_server_inhibit": _sorry_option,
            "sorry_server_lvs_method": _sorry_option,
            "real_server": _real_server,
            "ip_family": _ip_family,
            **{
                flag: _lb_flag
                for flag in ("sh-port", "sh-fallback", "mh-port", "mh-fallback", "ops")
            },
        },
        f"virtual_server {_text(node.args)}: ",
    )
    if "fwmark" not in table and "protocol" not in table:
        # keepalived 2 sets UDP explicitly ("no protocol set - defaulting to UDP"), since
        # that is what the kernel does with protocol 0: the imported service does the same.
        table["protocol"] = "UDP"
        out.lines[(*path, "protocol")] = (node.file, node.line)
        out.note(
            node,
            "no `protocol`: keepalived then runs this service as UDP, and so does the "
            "import; add `protocol TCP` to the keepalived block if TCP was meant",
            "virtual_server protocol",
        )
    _apply_check_defaults(out, table, path)
    _fwmark_family(out, node, table, path)


def _check_default(out: _Out, node: Node, path: KeyPath) -> None:
    key = _RENAME.get(node.key, node.key) if node.key == "nb_get_retry" else node.key
    if node.children is not None or len(node.args) != 1:
        out.note(node, f"expected `{node.key} VALUE`; left out")
        return
    out.defaults.setdefault(path, {})[key] = (_RS_CHECK_DEFAULTS[node.key](node.args), node)


def _apply_check_defaults(out: _Out, vs: dict[str, Any], vs_path: KeyPath) -> None:
    vs_defaults = out.defaults.get(vs_path, {})
    used: set[int] = set()
    for i, rs in enumerate(vs.get("real_server", [])):
        rs_path = (*vs_path, "real_server", i)
        merged = {**vs_defaults, **out.defaults.get(rs_path, {})}
        for kind in _CHECK_KINDS.values():
            for j, check in enumerate(rs.get(kind, [])):
                for key, (value, node) in merged.items():
                    if key in check or (kind == "misc_check" and key in _NOT_FOR_MISC):
                        continue
                    if key == "virtualhost" and kind not in ("http_get", "ssl_get"):
                        continue
                    check[key] = value
                    out.lines[(*rs_path, kind, j, key)] = (node.file, node.line)
                    used.add(id(node))
    for path, table in out.defaults.items():
        if path[: len(vs_path)] != vs_path:
            continue
        for _key, (_value, node) in table.items():
            if id(node) not in used:
                out.note(node, "a default for checks, but no check below uses it; left out")


def _fwmark_family(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """keepalived gives a fwmark service the address family of its real servers, and
    clears their ports ("has port specified - clearing"): the mark selects the packets and
    NAT keeps each packet's own port. The port still names what the checks connect to."""
    if "fwmark" not in table:
        return
    reals = table.get("real_server", [])
    ips = [rs.get("ip", "") for rs in reals]
    if "family" not in table and ips and all(":" in ip for ip in ips):
        table["family"] = 6
        out.lines[(*path, "family")] = (node.file, node.line)
    for i, rs in enumerate(reals):
        port = rs.get("port")
        if not isinstance(port, int) or port == 0:
            continue
        rs_path = (*path, "real_server", i)
        file, line = out.lines.get(rs_path, (node.file, node.line))
        for kind in ("tcp_check", "http_get", "ssl_get"):
            for j, check in enumerate(rs.get(kind, [])):
                if "connect_port" not in check:
                    check["connect_port"] = port
                    out.lines[(*rs_path, kind, j, "connect_port")] = (file, line)
        rs["port"] = 0
        out.note(
            Node("real_server", [], file, line),
            f"keepalived clears a real server's port on a fwmark service; port 0 here, "
            f"and {port} kept as the checks' connect_port",
            "real_server port",
        )


def _persistence(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if len(node.args) > 1:
        out.note(node, f"takes one value; left out: {_text(node.args[1:])}")
    table["persistence_timeout"] = _number(node.args[0], True) if node.args else True
    out.lines[(*path, "persistence_timeout")] = (node.file, node.line)


def _ip_family(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    fam = {"inet": 4, "inet6": 6}.get(_text(node.args))
    if fam is None:
        out.note(node, "expected inet or inet6; left out")
        return
    if "fwmark" in table:
        table["family"] = fam
        out.lines[(*path, "family")] = (node.file, node.line)


def _lb_flag(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if node.args:
        out.note(node, f"a flag takes no value; left out: {_text(node.args)}")
    flags = table.setdefault("lb_flags", [])
    out.lines[(*path, "lb_flags", len(flags))] = (node.file, node.line)
    flags.append(node.key)


def _sorry_server(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    if len(node.args) not in (1, 2):
        out.note(node, "expected `sorry_server IP [PORT]`; left out")
        return
    sorry = table.setdefault("sorry_server", {})
    sorry["ip"] = node.args[0]
    if len(node.args) == 2:  # without: the virtual server's port, as in keepalived 2
        sorry["port"] = _number(node.args[1], True)
    p = (*path, "sorry_server")
    out.lines[p] = (node.file, node.line)
    out.lines[(*p, "ip")] = out.lines[(*p, "port")] = (node.file, node.line)


def _sorry_option(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    sorry = table.setdefault("sorry_server", {})
    key = "inhibit_on_failure" if node.key == "sorry_server_inhibit" else "lb_kind"
    sorry[key] = _flag(node.args) if key == "inhibit_on_failure" else _text(node.args)
    out.lines[(*path, "sorry_server", key)] = (node.file, node.line)


def _real_server(out: _Out, node: Node, vs: dict[str, Any], vs_path: KeyPath) -> None:
    reals = vs.setdefault("real_server", [])
    path: KeyPath = (*vs_path, "real_server", len(reals))
    if len(node.args) not in (1, 2):
        out.note(node, "expected `real_server IP PORT`; left out")
        return
    table: dict[str, Any] = {"ip": node.args[0]}
    if len(node.args) > 1:  # without a port: the virtual server's (fwmark: none)
        table["port"] = _number(node.args[1], True)
    reals.append(table)
    out.mark(path, node)
    out.lines[(*path, "ip")] = out.lines[(*path, "port")] = (node.file, node.line)
    _fill(
        out,
        node.children or [],
        table,
        path,
        {
            "weight": INT,
            "inhibit_on_failure": FLAG,
            "notify_up": STR,
            "notify_down": STR,
            "smtp_alert": FLAG,
            "uthreshold": INT,
            "lthreshold": INT,
            "lb_kind": STR,
            "lvs_method": STR,
        },
        {
            **{name: _check for name in _CHECK_KINDS},
            **{k: (lambda o, n, t, p: _check_default(o, n, p)) for k in _RS_CHECK_DEFAULTS},
        },
        f"real_server {_text(node.args)}: ",
    )
    dropped = [
        c for c in node.children or [] if c.key.endswith("_CHECK") and c.key not in _CHECK_KINDS
    ]
    if dropped and not any(kind in table for kind in _CHECK_KINDS.values()):
        out.note(
            node,
            f"no supported check left ({', '.join(c.key for c in dropped)} left out): this real "
            "server counts as always alive, as in keepalived without a checker",
        )


def _check(out: _Out, node: Node, rs: dict[str, Any], rs_path: KeyPath) -> None:
    kind = _CHECK_KINDS[node.key]
    checks = rs.setdefault(kind, [])
    path: KeyPath = (*rs_path, kind, len(checks))
    table: dict[str, Any] = {}
    checks.append(table)
    out.mark(path, node)
    simple: dict[str, _Conv] = dict(_CHECK_COMMON)
    blocks: dict[str, Callable[[_Out, Node, dict[str, Any], KeyPath], None]] = {}
    if kind in ("http_get", "ssl_get"):
        simple["virtualhost"] = STR
        blocks["url"] = _url
    elif kind == "misc_check":
        simple = {
            "misc_path": STR,
            "misc_timeout": NUM,
            "misc_dynamic": FLAG,
            "retry": INT,
            "delay_before_retry": NUM,
            "warmup": NUM,
            "delay_loop": NUM,
        }
        blocks["user"] = _user
    _fill(out, node.children or [], table, path, simple, blocks, f"{node.key}: ")
    if kind not in ("http_get", "ssl_get"):
        for child in node.children or []:
            if child.key == "nb_get_retry" and "retry" in table:
                out.note(
                    child,
                    f"keepalived 2 ignores nb_get_retry in {node.key} (it knows it only in "
                    f"HTTP_GET/SSL_GET); imported as retry {table['retry']}, which lvstui honours",
                )


def _url(out: _Out, node: Node, check: dict[str, Any], check_path: KeyPath) -> None:
    urls = check.setdefault("url", [])
    path: KeyPath = (*check_path, "url", len(urls))
    table: dict[str, Any] = {}
    urls.append(table)
    out.mark(path, node)
    _fill(
        out,
        node.children or [],
        table,
        path,
        {"path": STR, "digest": STR, "virtualhost": STR},
        {"status_code": _status_code},
        "url.",
    )


def _status_code(out: _Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    codes: list[Any] = [_number(a, True) if a.isdigit() else a for a in node.args]
    table["status_code"] = codes[0] if len(codes) == 1 else codes
    out.lines[(*path, "status_code")] = (node.file, node.line)


_TOP: dict[str, Callable[[_Out, Node], None]] = {
    "global_defs": _global_defs,
    "vrrp_script": _vrrp_script,
    "vrrp_sync_group": _sync_group,
    "vrrp_instance": _vrrp_instance,
    "virtual_server": _virtual_server,
}


def to_toml_data(
    nodes: list[Node],
) -> tuple[dict[str, Any], dict[KeyPath, tuple[str, int]], list[ImportNote]]:
    out = _Out()
    for node in nodes:  # groups first: keepalived resolves them after reading the file
        if node.key == "virtual_server_group":
            _virtual_server_group(out, node)
    for node in nodes:
        handler = _TOP.get(node.key)
        if node.key == "virtual_server_group":
            continue
        if handler is None:
            out.unsupported(node, "")
        elif node.key == "global_defs" and "global_defs" in out.data:
            _fill_more_global(out, node)
        else:
            handler(out, node)
    for name, group in out.groups.items():
        if name not in out.groups_used:
            out.note(group, f"no `virtual_server group {name}` uses it; left out")
    _vrrp_versions(out)
    _track_script_weights(out)
    _garp_defaults(out)
    return out.data, out.lines, out.notes


def _virtual_server_group(out: _Out, node: Node) -> None:
    if len(node.args) != 1 or node.children is None:
        out.note(node, "expected `virtual_server_group NAME { ... }`; left out")
        return
    name = node.args[0]
    if name in out.groups:
        raise ConfigError(
            f"virtual_server_group {name!r} is defined twice",
            file=node.file,
            line=node.line,
            hint="give each one its own name",
        )
    out.groups[name] = node


def _vrrp_versions(out: _Out) -> None:
    """Do what keepalived does with the version of each instance: IPv6 addresses make it
    VRRPv3 (VRRPv2 carries IPv4 only), and a VRRPv2 advert interval is rounded to whole
    seconds. Done after the whole file is read, since global_defs may come last."""
    default = out.data.get("global_defs", {}).get("vrrp_version", 2)
    for name, inst in out.data.get("vrrp_instance", {}).items():
        path: KeyPath = ("vrrp_instance", name)
        file, line = out.lines.get(path, ("<string>", 0))
        where = Node("vrrp_instance", [name], file, line)
        version = inst.get("version", default)
        vips = inst.get("virtual_ipaddress", [])
        first = vips[0].split()[0] if vips and isinstance(vips[0], str) and vips[0] else ""
        if ":" in first and "version" not in inst and version == 2:
            inst["version"] = version = 3
            out.lines[(*path, "version")] = (file, line)
            out.note(
                where,
                "IPv6 addresses: keepalived runs this instance as VRRPv3, so does the import "
                "(version = 3)",
                f"vrrp_instance {name}: version",
            )
        advert = inst.get("advert_int")
        if (
            version == 2
            and isinstance(advert, float)
            and math.isfinite(advert)
            and advert > 0
            and advert != int(advert)
        ):
            rounded = max(1, int(advert + 0.5))
            inst["advert_int"] = rounded
            adv_file, adv_line = out.lines.get((*path, "advert_int"), (file, line))
            out.note(
                Node("advert_int", [], adv_file, adv_line),
                f"VRRPv2 adverts are whole seconds: keepalived rounds {advert:g} to "
                f"{rounded}, so does the import; use version 3 for sub-second adverts",
                f"vrrp_instance {name}: advert_int",
            )


def _fill_more_global(out: _Out, node: Node) -> None:
    out.note(node, "second global_defs block: merged into the first")
    _global_defs(out, node)


# --- entry points ---------------------------------------------------------------------


def default_config_id() -> str:
    """keepalived's default config id (for `@ID` lines): the host name up to its first dot."""
    return socket.gethostname().split(".")[0]


def import_keepalived(path: str | Path, config_id: str | None = None) -> ImportResult:
    """`config_id`: keepalived's `-i ID`, which selects `@ID` lines; default: the host name."""
    text = read_config_text(path)
    return import_keepalived_text(text, str(path), config_id)


def import_keepalived_text(
    text: str, file: str = "<string>", config_id: str | None = None
) -> ImportResult:
    """Parse, map and validate. Raises ConfigError(s) naming keepalived.conf lines."""
    skipped: list[ImportNote] = []
    cid = default_config_id() if config_id is None else config_id
    data, lines, notes = to_toml_data(parse(tokenize(text, file, config_id=cid, skipped=skipped)))
    notes = skipped + notes

    def line_of(path: KeyPath) -> int | None:
        for n in range(len(path), 0, -1):
            hit = lines.get(path[:n])
            if hit is not None:
                return hit[1]
        return None

    try:
        config = load_config_data(data, file, line_of)
    except ConfigErrors as exc:
        # Errors inside included files must name those files: re-home each one.
        fixed = []
        by_key = {format_key(k): v for k, v in lines.items()}
        for e in exc.errors:
            where = _lookup(by_key, e.key)
            fixed.append(
                ConfigError(
                    e.detail,
                    file=where[0] if where else file,
                    line=where[1] if where else e.line,
                    key=e.key,
                    hint=e.hint,
                )
            )
        raise ConfigErrors(fixed) from None
    return ImportResult(data=data, config=config, notes=tuple(notes))


def _lookup(by_key: dict[str, tuple[str, int]], key: str) -> tuple[str, int] | None:
    while key:
        if key in by_key:
            return by_key[key]
        cut = max(key.rfind("."), key.rfind("["))
        if cut <= 0:
            return None
        key = key[:cut]
    return None
