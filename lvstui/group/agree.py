"""Agreement between directors: what each one runs, compared section by section.

Each director sends its peers a `Status`: a digest per section of its effective
configuration (the parsed model, not the file's bytes — comments and key order do not
matter), its VRRP instances' states and priorities, and a digest of its effective table
(services, real servers, weights). From those:

- `drift(mine, theirs)` names the sections that differ (`lvstui group diff`);
- `split_brain(statuses)` finds two directors MASTER for the same VRID — seen here even when
  their adverts do not reach each other.

Settings that are meant to differ between the directors of a pair (router_id, a VRRP
instance's state and priority, its unicast addresses, the group membership itself, local
paths) are left out of the digests, so a correct pair shows no drift. Pure.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lvstui.config.schema import Config
from lvstui.config.state import service_key_of, service_text
from lvstui.model import Snapshot, VrrpRunState
from lvstui.netutil import is_ipv6

__all__ = [
    "SplitBrain",
    "Status",
    "VrrpRole",
    "config_sections",
    "drift",
    "hash_drift",
    "hash_tables",
    "split_brain",
    "status_of",
    "table_digest",
]

# per-director by design: never reported as drift
_LOCAL_FIELDS: dict[str, frozenset[str]] = {
    "global_defs": frozenset({"router_id"}),
    "lvstui": frozenset(
        {
            "group",
            "control_socket",
            "control_group",
            "control_read_only_others",
            "state_dir",
            "metrics_listen",
            "keys",
            "theme",
        }
    ),
    "vrrp_instance": frozenset({"state", "priority", "unicast_src_ip", "unicast_peer"}),
}


def _canon(obj: object) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _canon(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, frozenset | set):
        return sorted((_canon(x) for x in obj), key=repr)
    if isinstance(obj, tuple | list):
        return [_canon(x) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): _canon(v) for k, v in obj.items()}
    return obj


def _hash(kind: str, obj: object) -> str:
    doc = _canon(obj)
    if isinstance(doc, dict):
        for name in _LOCAL_FIELDS.get(kind, frozenset()):
            doc.pop(name, None)
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_sections(config: Config) -> dict[str, str]:
    """Section name → digest, e.g. `virtual_server TCP 198.51.100.9:80` → `3f2a…`."""
    out = {"global_defs": _hash("global_defs", config.global_defs)}
    out["lvstui"] = _hash("lvstui", config.lvstui)
    for s in config.vrrp_scripts:
        out[f"vrrp_script {s.name}"] = _hash("vrrp_script", s)
    for g in config.vrrp_sync_groups:
        out[f"vrrp_sync_group {g.name}"] = _hash("vrrp_sync_group", g)
    for i in config.vrrp_instances:
        out[f"vrrp_instance {i.name}"] = _hash("vrrp_instance", i)
    for vs in config.virtual_servers:
        out[f"virtual_server {service_text(service_key_of(vs))}"] = _hash("virtual_server", vs)
    return out


def table_digest(snapshot: Snapshot) -> str:
    """The effective table: services, the real servers in the dataplane, their weights."""
    rows = sorted(
        (
            str(s.key),
            s.scheduler,
            sorted((str(r.key), r.weight, r.fwd.value) for r in s.real_servers if r.in_table),
        )
        for s in snapshot.services
    )
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class VrrpRole:
    instance: str
    vrid: int
    family: int
    state: VrrpRunState
    priority: int


@dataclass(frozen=True, slots=True)
class Status:
    name: str
    config: Mapping[str, str]
    vrrp: tuple[VrrpRole, ...] = ()
    table: str = ""
    # per mh/sh service (its text) the digest of its hashing table (ServiceView.hash_table)
    hashes: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": dict(self.config),
            "vrrp": [
                {
                    "instance": r.instance,
                    "vrid": r.vrid,
                    "family": r.family,
                    "state": r.state.value,
                    "priority": r.priority,
                }
                for r in self.vrrp
            ],
            "table": self.table,
            "hashes": dict(self.hashes),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Status:
        """A peer's status; ValueError when malformed."""
        try:
            config = doc["config"]
            if not isinstance(config, Mapping):
                raise ValueError("config must be an object")
            roles = tuple(
                VrrpRole(
                    str(r["instance"]),
                    int(r["vrid"]),
                    int(r["family"]),
                    VrrpRunState(r["state"]),
                    int(r["priority"]),
                )
                for r in doc.get("vrrp", [])
            )
            hashes = doc.get("hashes", {})  # absent from an older peer: nothing to compare
            if not isinstance(hashes, Mapping):
                raise ValueError("hashes must be an object")
            return cls(
                str(doc["name"]),
                {str(k): str(v) for k, v in config.items()},
                roles,
                str(doc.get("table", "")),
                {str(k): str(v) for k, v in hashes.items()},
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"bad status: {e}") from e


def status_of(name: str, config: Config, snapshot: Snapshot) -> Status:
    roles = tuple(
        VrrpRole(
            v.name,
            v.vrid,
            6 if any(is_ipv6(a) for a in v.vips) else 4,
            v.state,
            v.priority,
        )
        for v in snapshot.vrrp
    )
    return Status(
        name, config_sections(config), roles, table_digest(snapshot), hash_tables(snapshot)
    )


def hash_tables(snapshot: Snapshot) -> dict[str, str]:
    """Service text → digest of its hashing table, for the mh/sh/dh services."""
    return {str(s.key): s.hash_table for s in snapshot.services if s.hash_table}


def hash_drift(mine: Status, theirs: Status) -> list[str]:
    """The hashing services both directors run whose tables differ, sorted: behind ECMP a
    flow the router moves between them would reach another real server. A service only one
    side runs is configuration drift (`drift`), not named here."""
    return sorted(
        svc
        for svc in set(mine.hashes) & set(theirs.hashes)
        if mine.hashes[svc] != theirs.hashes[svc]
    )


def drift(mine: Status, theirs: Status) -> list[str]:
    """Sections that differ, sorted; one present on only one side is named with where."""
    out: list[str] = []
    for section in sorted(set(mine.config) | set(theirs.config)):
        a, b = mine.config.get(section), theirs.config.get(section)
        if a == b:
            continue
        if a is None:
            out.append(f"{section} (only on {theirs.name})")
        elif b is None:
            out.append(f"{section} (only on {mine.name})")
        else:
            out.append(section)
    return out


@dataclass(frozen=True, slots=True)
class SplitBrain:
    vrid: int
    family: int
    directors: tuple[str, ...]  # sorted names of the directors MASTER for it

    def __str__(self) -> str:
        fam = " (IPv6)" if self.family == 6 else ""
        return f"split brain: VRID {self.vrid}{fam} is MASTER on {', '.join(self.directors)}"


def split_brain(statuses: Iterable[Status]) -> list[SplitBrain]:
    masters: dict[tuple[int, int], set[str]] = {}
    for st in statuses:
        for role in st.vrrp:
            if role.state is VrrpRunState.MASTER:
                masters.setdefault((role.vrid, role.family), set()).add(st.name)
    return [
        SplitBrain(vrid, fam, tuple(sorted(names)))
        for (vrid, fam), names in sorted(masters.items())
        if len(names) > 1
    ]
