"""The replicated overrides map: what every director of the group holds the same.

An operator's override of one real server is split into three independent entries, so two
directors changing different things of the same server never overwrite each other:

- `drain`  — drained (with its timeout) or not;
- `weight` — a weight set at run time, or none (the configured one);
- `member` — added at run time (weight, lb_kind), removed, or neither.

Each entry carries a hybrid logical clock stamp and the name of the director it came from
(its origin) and the operator who typed it. Merge rule: per entry, the newest stamp wins;
equal stamps are ordered by origin name, then by value (two directors never issue the same
stamp for different values, but the merge must not depend on that). Clearing something
(undrain, weight back to the configured one, undoing a remove) writes a tombstone — an entry
without a value — so the clearing travels like any change. Tombstones are forgotten after a
retention period (`purge`); a peer away for longer than that may bring the cleared value back.

`merge` is commutative, associative and idempotent (tests/group/test_store.py proves it with
hypothesis), so the directors reach one table whatever the order in which changes arrive.
Everything here is pure.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lvstui.config.state import AddedReal, Overrides, check_weight, parse_service, service_text
from lvstui.group.clock import Hlc
from lvstui.model import LbKind, RealKey, ServiceKey

__all__ = [
    "Added",
    "Drained",
    "Entry",
    "EntryKey",
    "Field",
    "Removed",
    "Store",
    "Value",
    "Weighted",
    "entries_between",
    "entries_from_overrides",
]


class Field(enum.Enum):
    DRAIN = "drain"
    WEIGHT = "weight"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class EntryKey:
    service: ServiceKey
    real: RealKey
    field: Field

    def text(self) -> str:
        """Stable identity used for ordering, hashing and the wire."""
        return f"{service_text(self.service)}|{self.real}|{self.field.value}"

    def __str__(self) -> str:
        return f"{self.field.value} {self.real} on {service_text(self.service)}"


@dataclass(frozen=True, slots=True)
class Drained:
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Weighted:
    weight: int


@dataclass(frozen=True, slots=True)
class Added:
    weight: int = 1
    lb_kind: LbKind | None = None


@dataclass(frozen=True, slots=True)
class Removed:
    pass


Value = Drained | Weighted | Added | Removed

_FIELD_OF: dict[type, Field] = {
    Drained: Field.DRAIN,
    Weighted: Field.WEIGHT,
    Added: Field.MEMBER,
    Removed: Field.MEMBER,
}


@dataclass(frozen=True, slots=True)
class Entry:
    key: EntryKey
    value: Value | None  # None: a tombstone (the override was cleared)
    stamp: Hlc
    origin: str  # the director where the operator typed it
    operator: str = ""  # who typed it (audit): "uid 0 (root)", "console alice"

    def __post_init__(self) -> None:
        if self.value is not None and _FIELD_OF[type(self.value)] is not self.key.field:
            raise ValueError(f"{type(self.value).__name__} does not belong in {self.key.field}")
        if not self.origin:
            raise ValueError("an entry needs its origin director")

    def describe(self) -> str:
        """For the audit log and the event list, in the words of `lvstui ctl`."""
        where = f"{service_text(self.key.service)} {self.key.real}"
        match self.value:
            case Drained(timeout):
                return f"drain {where}" + (f" timeout {timeout:g}s" if timeout else "")
            case Weighted(weight):
                return f"weight {where} {weight}"
            case Added(weight, lb_kind):
                return f"add {where} weight {weight}" + (f" {lb_kind.value}" if lb_kind else "")
            case Removed():
                return f"remove {where}"
        if self.key.field is Field.WEIGHT:
            return f"weight {where} config"
        return f"{'undrain' if self.key.field is Field.DRAIN else 'restore'} {where}"

    def version(self) -> tuple[Hlc, str, str]:
        """Total order of two writes of one key: stamp, then origin, then value."""
        return (self.stamp, self.origin, _value_text(self.value))

    def newer_than(self, other: Entry | None) -> bool:
        return other is None or self.version() > other.version()

    # --- the wire and the state file share one form ------------------------------------

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "service": service_text(self.key.service),
            "real": str(self.key.real),
            "field": self.key.field.value,
            "stamp": str(self.stamp),
            "origin": self.origin,
        }
        if self.operator:
            doc["operator"] = self.operator
        value = _value_doc(self.value)
        if value is not None:
            doc["value"] = value
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Entry:
        """Parse one entry (from a peer or the state file); ValueError when it is bad."""
        try:
            fld = Field(str(doc["field"]))
            key = EntryKey(service_of(str(doc["service"])), real_of(str(doc["real"])), fld)
            raw = doc.get("value")
            value = None if raw is None else _parse_value(fld, raw)
            return cls(
                key,
                value,
                Hlc.parse(str(doc["stamp"])),
                str(doc["origin"]),
                str(doc.get("operator", "")),
            )
        except KeyError as e:
            raise ValueError(f"missing key {e}") from e
        except (TypeError, AttributeError) as e:
            raise ValueError(str(e)) from e


# A merge after a partition parses thousands of keys, most naming the same few services and
# the same real servers again and again (entries, versions, wants): parse each text once.
# Bounded; a bad text raises ValueError every time (exceptions are not cached).
@functools.lru_cache(maxsize=4096)
def service_of(text: str) -> ServiceKey:
    return parse_service(text)


@functools.lru_cache(maxsize=65536)
def real_of(text: str) -> RealKey:
    return RealKey.parse(text)


@functools.lru_cache(maxsize=1024)
def _value_text(value: Value | None) -> str:
    """A value's canonical text (in versions on the wire): few distinct values, often."""
    return json.dumps(_value_doc(value), sort_keys=True)


def _value_doc(value: Value | None) -> dict[str, Any] | None:
    match value:
        case None:
            return None
        case Drained(timeout):
            return {"drain": True} if timeout is None else {"drain": True, "timeout": timeout}
        case Weighted(weight):
            return {"weight": weight}
        case Added(weight, lb_kind):
            doc: dict[str, Any] = {"add": True, "weight": weight}
            if lb_kind is not None:
                doc["lb_kind"] = lb_kind.value
            return doc
        case Removed():
            return {"remove": True}


def _parse_value(fld: Field, raw: object) -> Value:
    if not isinstance(raw, Mapping):
        raise ValueError(f"a value table was expected, got {raw!r}")
    if fld is Field.DRAIN:
        t = raw.get("timeout")
        if t is not None and (isinstance(t, bool) or not isinstance(t, int | float) or t < 0):
            raise ValueError(f"drain timeout must be a number >= 0, got {t!r}")
        return Drained(None if t is None else float(t))
    if fld is Field.WEIGHT:
        return Weighted(check_weight(raw.get("weight")))
    if raw.get("remove"):
        return Removed()
    kind = raw.get("lb_kind")
    return Added(check_weight(raw.get("weight", 1)), LbKind(kind) if kind else None)


@dataclass(frozen=True, slots=True)
class Store:
    """Immutable: `merge` and `apply` return new stores."""

    entries: Mapping[EntryKey, Entry] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: EntryKey) -> Entry | None:
        return self.entries.get(key)

    def apply(self, incoming: Iterable[Entry]) -> tuple[Store, list[Entry]]:
        """Merge `incoming` entries; returns the new store and the entries that won (the
        changes the engine must apply and the audit log must name)."""
        out = dict(self.entries)
        won: dict[EntryKey, Entry] = {}
        for e in incoming:
            if e.newer_than(out.get(e.key)):
                out[e.key] = e
                won[e.key] = e
        if not won:
            return self, []
        return Store(out), list(won.values())

    def merge(self, other: Store) -> Store:
        return self.apply(other.entries.values())[0]

    def purge(self, now_ms: int, retention_ms: int) -> Store:
        """Forget tombstones older than the retention (a cleared override needs to travel
        only as long as a director may stay away)."""
        keep = {
            k: e
            for k, e in self.entries.items()
            if e.value is not None or now_ms - e.stamp.wall_ms <= retention_ms
        }
        return self if len(keep) == len(self.entries) else Store(keep)

    def latest(self) -> Hlc:
        """The newest stamp held (the clock resumes after it on restart)."""
        return max((e.stamp for e in self.entries.values()), default=Hlc(0, 0))

    def overrides(self) -> Overrides:
        """The effective overrides: what the engine applies."""
        drained: dict[tuple[ServiceKey, RealKey], float | None] = {}
        weights: dict[tuple[ServiceKey, RealKey], int] = {}
        added: dict[tuple[ServiceKey, RealKey], AddedReal] = {}
        removed: set[tuple[ServiceKey, RealKey]] = set()
        for key, e in self.entries.items():
            pair = (key.service, key.real)
            match e.value:
                case Drained(timeout):
                    drained[pair] = timeout
                case Weighted(weight):
                    weights[pair] = weight
                case Added(weight, lb_kind):
                    added[pair] = AddedReal(weight, lb_kind)
                case Removed():
                    removed.add(pair)
        return Overrides(drained, weights, added, frozenset(removed))

    # --- the state file ------------------------------------------------------------------

    def to_doc(self) -> list[dict[str, Any]]:
        return [self.entries[k].to_doc() for k in sorted(self.entries, key=EntryKey.text)]

    @classmethod
    def from_doc(cls, rows: Iterable[object], skipped: list[str] | None = None) -> Store:
        """Entries from the state file; a bad one raises ValueError, unless `skipped` is
        given: then it is left out and described there."""
        store = cls()
        for i, row in enumerate(rows):
            try:
                if not isinstance(row, Mapping):
                    raise ValueError(f"a table was expected, got {row!r}")
                store, _ = store.apply([Entry.from_doc(row)])
            except ValueError as e:
                if skipped is None:
                    raise
                skipped.append(f"entry[{i}]: {e}")
        return store


def _fields(ov: Overrides, pair: tuple[ServiceKey, RealKey]) -> dict[Field, Value | None]:
    member: Value | None = None
    if pair in ov.added:
        a = ov.added[pair]
        member = Added(a.weight, a.lb_kind)
    elif pair in ov.removed:
        member = Removed()
    return {
        Field.DRAIN: Drained(ov.drained[pair]) if pair in ov.drained else None,
        Field.WEIGHT: Weighted(ov.weights[pair]) if pair in ov.weights else None,
        Field.MEMBER: member,
    }


def entries_between(
    old: Overrides, new: Overrides, stamp: Hlc, origin: str, operator: str
) -> list[Entry]:
    """The entries that turn `old` into `new` (an operator's change made here): one per
    field that changed, a tombstone where something was cleared. Working from the
    overrides, not the command, keeps the store equal to what the engine applies whatever
    the command did (a restore that also sets a weight, a remove that forgets a drain)."""
    out: list[Entry] = []
    for pair in sorted(old.pairs() | new.pairs(), key=lambda p: (str(p[0]), str(p[1]))):
        before, after = _fields(old, pair), _fields(new, pair)
        for f in Field:
            if before[f] != after[f]:
                out.append(Entry(EntryKey(*pair, f), after[f], stamp, origin, operator))
    return out


def entries_from_overrides(overrides: Overrides, stamp: Hlc, origin: str) -> list[Entry]:
    """Seed the group from an overrides.toml written before the group was configured."""
    out: list[Entry] = []
    for (svc, real), timeout in overrides.drained.items():
        out.append(Entry(EntryKey(svc, real, Field.DRAIN), Drained(timeout), stamp, origin))
    for (svc, real), weight in overrides.weights.items():
        out.append(Entry(EntryKey(svc, real, Field.WEIGHT), Weighted(weight), stamp, origin))
    for (svc, real), a in overrides.added.items():
        value = Added(a.weight, a.lb_kind)
        out.append(Entry(EntryKey(svc, real, Field.MEMBER), value, stamp, origin))
    for svc, real in overrides.removed:
        out.append(Entry(EntryKey(svc, real, Field.MEMBER), Removed(), stamp, origin))
    return out
