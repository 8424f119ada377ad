"""Lists of routes and policy rules (`virtual_routes`, `static_rules`, ...): each entry a
string in iproute2's words (lvstui/config/routes.py), errors naming the entry."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from lvstui.config.routes import IpRoute, IpRule, parse_route, parse_rule
from lvstui.config.schema import VipAddress
from lvstui.config.table import Table

__all__ = ["read_routes", "read_rules", "read_static_addresses"]

T = TypeVar("T")


def _entries(t: Table, key: str, parse: Callable[[str], T], example: str) -> tuple[T, ...]:
    out: list[T] = []
    for i, text in enumerate(t.str_list(key)):
        try:
            out.append(parse(text))
        except ValueError as exc:
            t.ctx.err((*t.at(key), i), f"bad entry {text!r}: {exc}", f'e.g. "{example}"')
    return tuple(out)


def read_routes(t: Table, key: str) -> tuple[IpRoute, ...]:
    return _entries(t, key, parse_route, "192.0.2.0/24 via 198.51.100.1 dev eth0")


def read_rules(t: Table, key: str) -> tuple[IpRule, ...]:
    return _entries(t, key, parse_rule, "from 198.51.100.9 table 100")


def read_static_addresses(t: Table, vips: tuple[VipAddress, ...]) -> tuple[VipAddress, ...]:
    """static_ipaddress: no instance lends its interface, so each address names its dev."""
    for i, vip in enumerate(vips):
        if vip.dev is None:
            t.ctx.err(
                (*t.at("static_ipaddress"), i),
                f"{vip.address}: a static address needs `dev DEV` (no instance interface "
                "to default to)",
                f'e.g. "{vip.address}/{vip.prefixlen} dev eth0"',
            )
    return tuple(v for v in vips if v.dev is not None)
