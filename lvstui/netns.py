"""keepalived's `net_namespace NAME`: the whole director (VRRP, IPVS, its addresses, routes,
health checks) runs inside the named network namespace, `/var/run/netns/NAME` as made by
`ip netns add NAME`. The process enters it once, at start, before it opens any socket or
starts any thread (a thread created later inherits it); the control socket and the state
directory are files, reachable from outside it. Like keepalived, a reload cannot move a
running director to another namespace."""

from __future__ import annotations

from pathlib import Path

from lvstui.errors import ConfigError

__all__ = ["NETNS_DIR", "enter_namespace"]

NETNS_DIR = Path("/var/run/netns")


def enter_namespace(name: str, netns_dir: Path = NETNS_DIR) -> None:
    """Move this process into the named namespace ("" : stay). A name that is not there is
    an error: keepalived does not create it either."""
    if not name:
        return
    path = netns_dir / name
    if not path.exists():
        raise ConfigError(
            f"network namespace {name!r} not found ({path})",
            key="global_defs.net_namespace",
            hint=f"create it first (`ip netns add {name}`), or remove net_namespace",
        )
    from pyroute2.netns import setns

    try:
        setns(str(path), flags=0)  # flags=0: never create it
    except OSError as exc:
        raise ConfigError(
            f"cannot enter network namespace {name!r}: {exc.strerror or exc}",
            key="global_defs.net_namespace",
            hint="lvstui needs CAP_SYS_ADMIN for this (run it as root)",
        ) from exc
