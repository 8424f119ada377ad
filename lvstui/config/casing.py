"""Words lvstui's TOML reads in any case but keepalived 2.2 takes only in capitals.

lvstui reads `lb_kind = "dr"` as DR and `state = "master"` as MASTER; keepalived.conf's
`lb_kind dr` runs as NAT ("unknown [dr] routing method … setting default NAT") and
`state master` as BACKUP ("unknown state 'master', defaulting to BACKUP"). A file written
by hand from a keepalived.conf that relied on the fallback would now behave differently, so
check-config warns (the import already follows keepalived's fallback and notes it).
Pure: works on the raw TOML tables, where the spelling is still there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lvstui.config.lint import Finding, Level
from lvstui.config.locate import KeyPath

__all__ = ["case_findings"]

LB_KINDS = ("NAT", "DR", "TUN")
STATES = ("MASTER", "BACKUP")
TOPIC = "keepalived-case"


def _tables(value: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if isinstance(value, list):
        yield from ((i, t) for i, t in enumerate(value) if isinstance(t, Mapping))


def _lb_kind(table: Mapping[str, Any], path: KeyPath, out: list[Finding]) -> None:
    value = table.get("lb_kind")
    if not isinstance(value, str) or value in LB_KINDS or value.upper() not in LB_KINDS:
        return
    out.append(
        Finding(
            Level.WARNING,
            (*path, "lb_kind"),
            f"lb_kind {value!r}: lvstui runs {value.upper()}; keepalived 2.2 takes NAT, DR or "
            f"TUN in capitals only and runs `lb_kind {value}` as NAT",
            f'write "{value.upper()}" (or "NAT" if the service ran as NAT under keepalived)',
            TOPIC,
        )
    )


def case_findings(raw: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    for i, vs in _tables(raw.get("virtual_server")):
        path: KeyPath = ("virtual_server", i)
        _lb_kind(vs, path, out)
        sorry = vs.get("sorry_server")
        if isinstance(sorry, Mapping):
            _lb_kind(sorry, (*path, "sorry_server"), out)
        for j, rs in _tables(vs.get("real_server")):
            _lb_kind(rs, (*path, "real_server", j), out)
    instances = raw.get("vrrp_instance")
    for name, inst in (instances or {}).items() if isinstance(instances, Mapping) else ():
        state = inst.get("state") if isinstance(inst, Mapping) else None
        if isinstance(state, str) and state not in STATES and state.upper() in STATES:
            out.append(
                Finding(
                    Level.WARNING,
                    ("vrrp_instance", name, "state"),
                    f"state {state!r}: lvstui starts as {state.upper()}; keepalived 2.2 takes "
                    f"MASTER or BACKUP in capitals only and starts `state {state}` as BACKUP",
                    f'write "{state.upper()}" (or "BACKUP" if it ran as BACKUP under keepalived)',
                    TOPIC,
                )
            )
    return out
