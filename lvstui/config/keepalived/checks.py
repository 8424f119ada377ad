"""keepalived's checkers (`TCP_CHECK`, `HTTP_GET`, `SSL_GET`, `MISC_CHECK`, `PING_CHECK`,
`SMTP_CHECK`, `DNS_CHECK`, `UDP_CHECK`, `FILE_CHECK`, `BFD_CHECK`) → our check tables, and the
checker defaults a virtual or real server sets for the checks below it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lvstui.config.keepalived.notes import Out
from lvstui.config.keepalived.tree import Node
from lvstui.config.keepalived.values import (
    FLAG,
    INT,
    NUM,
    RENAME,
    STR,
    Conv,
    fill,
    joined,
    to_number,
    user_line,
)
from lvstui.config.locate import KeyPath

# --- LVS

CHECK_COMMON = {
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
CHECK_KINDS = {
    "TCP_CHECK": "tcp_check",
    "HTTP_GET": "http_get",
    "SSL_GET": "ssl_get",
    "MISC_CHECK": "misc_check",
    "PING_CHECK": "ping_check",
    "SMTP_CHECK": "smtp_check",
    "DNS_CHECK": "dns_check",
    "UDP_CHECK": "udp_check",
    "FILE_CHECK": "file_check",
    "BFD_CHECK": "bfd_check",
}
# keepalived: FILE_CHECK and BFD_CHECK take none of the common checker options
NO_COMMON = {"file_check", "bfd_check"}


# keepalived 2 lets these be set on a virtual_server or real_server as defaults for every
# checker below (the real server's value wins over the virtual server's); we copy them into
# each check that does not set its own, which gives the same checks.
CHECK_DEFAULTS: dict[str, Conv] = {
    "connect_timeout": NUM,
    "retry": INT,
    "nb_get_retry": INT,
    "delay_before_retry": NUM,
    "warmup": NUM,
}
RS_CHECK_DEFAULTS: dict[str, Conv] = {**CHECK_DEFAULTS, "delay_loop": NUM, "virtualhost": STR}
NOT_FOR_MISC = {"connect_timeout"}  # a MISC_CHECK's limit is misc_timeout


def check_default(out: Out, node: Node, path: KeyPath) -> None:
    key = RENAME.get(node.key, node.key) if node.key == "nb_get_retry" else node.key
    if node.children is not None or len(node.args) != 1:
        out.note(node, f"expected `{node.key} VALUE`; left out")
        return
    out.defaults.setdefault(path, {})[key] = (RS_CHECK_DEFAULTS[node.key](node.args), node)


def apply_check_defaults(out: Out, vs: dict[str, Any], vs_path: KeyPath) -> None:
    vs_defaults = out.defaults.get(vs_path, {})
    used: set[int] = set()
    for i, rs in enumerate(vs.get("real_server", [])):
        rs_path = (*vs_path, "real_server", i)
        merged = {**vs_defaults, **out.defaults.get(rs_path, {})}
        for kind in CHECK_KINDS.values():
            for j, check in enumerate(rs.get(kind, [])):
                for key, (value, node) in merged.items():
                    if key in check or (kind == "misc_check" and key in NOT_FOR_MISC):
                        continue
                    if kind in NO_COMMON:
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


def check_block(out: Out, node: Node, rs: dict[str, Any], rs_path: KeyPath) -> None:
    kind = CHECK_KINDS[node.key]
    checks = rs.setdefault(kind, [])
    path: KeyPath = (*rs_path, kind, len(checks))
    table: dict[str, Any] = {}
    checks.append(table)
    out.mark(path, node)
    simple: dict[str, Conv] = dict(CHECK_COMMON)
    blocks: dict[str, Callable[[Out, Node, dict[str, Any], KeyPath], None]] = {}
    if kind in ("http_get", "ssl_get"):
        simple["virtualhost"] = STR
        blocks["url"] = url_block
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
        blocks["user"] = user_line
    elif kind == "smtp_check":
        simple["helo_name"] = STR
    elif kind == "dns_check":
        simple.update({"type": STR, "name": STR})
    elif kind == "udp_check":
        simple.update({"payload": STR, "min_reply_length": INT, "max_reply_length": INT})
        blocks["require_reply"] = require_reply_line
    elif kind == "file_check":
        simple = {"track_file": STR}
        blocks["weight"] = weight_line
    elif kind == "bfd_check":
        simple = {"name": STR}
    fill(out, node.children or [], table, path, simple, blocks, f"{node.key}: ")
    if kind not in ("http_get", "ssl_get"):
        for child in node.children or []:
            if child.key == "nb_get_retry" and "retry" in table:
                out.note(
                    child,
                    f"keepalived 2 ignores nb_get_retry in {node.key} (it knows it only in "
                    f"HTTP_GET/SSL_GET); imported as retry {table['retry']}, which lvstui honours",
                )


def require_reply_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """`require_reply` alone: any reply; `require_reply HEX`: a reply matching HEX."""
    table["require_reply"] = joined(node.args) if node.args else True
    out.lines[(*path, "require_reply")] = (node.file, node.line)


def weight_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    """track_file's and FILE_CHECK's `weight W [reverse|noreverse]`."""
    if not node.args or len(node.args) > 2 or node.args[1:] not in ([], ["reverse"], ["noreverse"]):
        out.note(node, "expected `weight W [reverse]`; left out")
        return
    table["weight"] = to_number(node.args[0], True)
    out.lines[(*path, "weight")] = (node.file, node.line)
    if node.args[1:]:
        table["reverse"] = node.args[1] == "reverse"
        out.lines[(*path, "reverse")] = (node.file, node.line)


def url_block(out: Out, node: Node, check: dict[str, Any], check_path: KeyPath) -> None:
    urls = check.setdefault("url", [])
    path: KeyPath = (*check_path, "url", len(urls))
    table: dict[str, Any] = {}
    urls.append(table)
    out.mark(path, node)
    fill(
        out,
        node.children or [],
        table,
        path,
        {"path": STR, "digest": STR, "virtualhost": STR},
        {"status_code": status_code_line},
        "url.",
    )


def status_code_line(out: Out, node: Node, table: dict[str, Any], path: KeyPath) -> None:
    codes: list[Any] = [to_number(a, True) if a.isdigit() else a for a in node.args]
    table["status_code"] = codes[0] if len(codes) == 1 else codes
    out.lines[(*path, "status_code")] = (node.file, node.line)
