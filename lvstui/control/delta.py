"""Snapshot deltas: a snapshot sent as the difference from the one the client already holds.

An attached console asks for a snapshot every second. At 1,000 services × 10 real servers a
full one is ~7 MB of JSON. After the first full snapshot, the server sends the next ones as
*deltas*: the snapshot's JSON in which every service whose view is equal to the one at the
same key in the client's base snapshot is replaced by its index in that base::

    {"seq": 42, "time": ..., ..., "services": [0, 1, {"key": {...}, ...}, 3, ...], "vrrp": [...]}

Everything else (the top-level fields, VRRP instances, changed and new services, in order)
travels in full, so a delta is itself a snapshot with references: applying it cannot drift
from the server's state, and a removed service is simply absent. Views are compared by
identity first, then by equality (the engine builds fresh views for each snapshot).

Histories are the exception: they move on every second (one new sample, the oldest
dropped), so with traffic every service changes every second, and 300 samples per real
server are most of the bytes. In a changed service, a history that is its base's moved on by
at most MAX_SHIFT samples travels as a `HistoryShift` (the new samples and the length to
keep) in the delta's ``shifts`` list, and as ``[]`` in the view itself.

Both directions use msgspec (the JSON is the same as `protocol.encode` produces, field for
field); `apply_delta(base, encode_delta(base, new)) == new` (property-tested).
"""

from __future__ import annotations

import dataclasses
import gc
import typing
from collections.abc import Callable
from typing import Any, Final, NamedTuple, TypeVar

import msgspec

from lvstui.control.protocol import ProtocolError
from lvstui.model import ServiceView, Snapshot

__all__ = [
    "HistoryShift",
    "apply_delta",
    "decode_snapshot_json",
    "encode_delta",
    "encode_snapshot_json",
]


# A history moves on by one sample a second; a client that skipped a few polls still gets
# the short form. Beyond this (or for short histories), the whole history is as cheap.
MAX_SHIFT: Final = 16


class HistoryShift(NamedTuple):
    """The history of ``services[service]`` (or of its ``real_servers[real]``) is the one
    of ``base.services[base]`` (or of its ``real_servers[base_real]``) followed by `tail`,
    keeping the last `n` samples. On the wire, an array: ``[1, 1, 0, 0, 300, [7]]``."""

    service: int
    base: int
    real: int  # -1: the service's own history
    base_real: int
    n: int
    tail: tuple[int, ...]


def _delta_type() -> Any:
    """Snapshot's own fields, but `services` may hold base indexes (built, never hand-copied,
    so a field added to Snapshot travels in deltas too)."""
    hints = typing.get_type_hints(Snapshot)
    spec: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(Snapshot):
        tp = tuple[int | ServiceView, ...] if f.name == "services" else hints[f.name]
        if f.default is not dataclasses.MISSING:
            default = dataclasses.field(default=f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = dataclasses.field(default_factory=f.default_factory)
        else:
            default = dataclasses.field()
        spec.append((f.name, tp, default))
    spec.append(("shifts", tuple[HistoryShift, ...], dataclasses.field(default=())))
    return dataclasses.make_dataclass("SnapshotDelta", spec, frozen=True, slots=True)


_SnapshotDelta: Final = _delta_type()
_FIELDS: Final = tuple(f.name for f in dataclasses.fields(Snapshot))
_encoder: Final = msgspec.json.Encoder()
_snapshot_decoder: Final = msgspec.json.Decoder(Snapshot)
_delta_decoder: Final = msgspec.json.Decoder(_SnapshotDelta)


def encode_snapshot_json(snap: Snapshot) -> bytes:
    """A full snapshot as JSON (~15× faster than `json.dumps(protocol.encode(snap))`)."""
    return _encoder.encode(snap)


def decode_snapshot_json(raw: bytes | memoryview | msgspec.Raw) -> Snapshot:
    """JSON → Snapshot, validated (types, enums, keys) like `protocol.decode_snapshot`."""
    snap: Snapshot = _decode(_snapshot_decoder, raw, "$.snapshot")
    return snap


def encode_delta(base: Snapshot, new: Snapshot) -> bytes:
    """`new` as JSON where each service view equal to the base's at its key is an index."""
    index = {v.key: i for i, v in enumerate(base.services)}
    old = base.services
    services: list[int | ServiceView] = []
    shifts: list[HistoryShift] = []
    for p, view in enumerate(new.services):
        i = index.get(view.key)
        if i is None:
            services.append(view)
        elif old[i] is view or old[i] == view:
            services.append(i)
        else:
            services.append(_strip_histories(view, old[i], p, i, shifts))
    fields: dict[str, Any] = {name: getattr(new, name) for name in _FIELDS}
    fields["services"] = tuple(services)
    fields["shifts"] = tuple(shifts)
    return _encoder.encode(_SnapshotDelta(**fields))


def _strip_histories(
    view: ServiceView, was: ServiceView, p: int, i: int, shifts: list[HistoryShift]
) -> ServiceView:
    """`view` without the histories that can travel as shifts from `was` (noted in
    `shifts`)."""
    history = view.history
    tail = _shift(was.history, history)
    if tail is not None:
        shifts.append(HistoryShift(p, i, -1, -1, len(history), tail))
        history = ()
    rindex = {r.key: k for k, r in enumerate(was.real_servers)}
    reals = list(view.real_servers)
    stripped = False
    for j, r in enumerate(reals):
        k = rindex.get(r.key)
        if k is None:
            continue
        tail = _shift(was.real_servers[k].history, r.history)
        if tail is not None:
            shifts.append(HistoryShift(p, i, j, k, len(r.history), tail))
            reals[j] = dataclasses.replace(r, history=())
            stripped = True
    if history is view.history and not stripped:
        return view
    return dataclasses.replace(view, history=history, real_servers=tuple(reals))


def _shift(old: tuple[int, ...], new: tuple[int, ...]) -> tuple[int, ...] | None:
    """The samples `new` has after `old` (new == (old + tail)[-len(new):]), or None."""
    n = len(new)
    if n <= MAX_SHIFT or not old:
        return None  # short: as cheap in full
    for k in range(MAX_SHIFT + 1):
        m = n - k
        if m <= len(old) and old[len(old) - m :] == new[:m]:
            return new[m:]
    return None


def apply_delta(base: Snapshot, raw: bytes | memoryview | msgspec.Raw) -> Snapshot:
    """The snapshot a delta (from `encode_delta(base, ...)`) describes."""
    delta = _decode(_delta_decoder, raw, "$.delta")
    old = base.services
    services: list[ServiceView] = []
    for i, item in enumerate(delta.services):
        if type(item) is int:
            if not 0 <= item < len(old):
                raise _bad(f"services[{i}]: no service {item} in the base (it has {len(old)})")
            services.append(old[item])
        else:
            services.append(item)
    for s, shift in enumerate(delta.shifts):
        _apply_shift(shift, delta.services, old, f"shifts[{s}]")
    fields = {name: getattr(delta, name) for name in _FIELDS}
    fields["services"] = tuple(services)
    return Snapshot(**fields)


def _apply_shift(
    shift: HistoryShift,
    received: tuple[int | ServiceView, ...],
    old: tuple[ServiceView, ...],
    where: str,
) -> None:
    if not 0 <= shift.service < len(received) or not 0 <= shift.base < len(old):
        raise _bad(f"{where}: no service {shift.service} here or {shift.base} in the base")
    view = received[shift.service]
    if isinstance(view, int):  # a base's view is shared: never written to
        raise _bad(f"{where}: service {shift.service} is a reference, not a received view")
    was = old[shift.base]
    target: Any = view
    history = was.history
    if shift.real >= 0:
        if not (
            shift.real < len(view.real_servers) and 0 <= shift.base_real < len(was.real_servers)
        ):
            raise _bad(f"{where}: no real server {shift.real} / {shift.base_real}")
        target = view.real_servers[shift.real]
        history = was.real_servers[shift.base_real].history
    whole = history + shift.tail
    if not 0 < shift.n <= len(whole):
        raise _bad(f"{where}: n must be in 1..{len(whole)}, got {shift.n}")
    # `target` was built by this very decode and nobody holds it yet (nor has hashed it):
    # filling in its history here is what its constructor would have done, without a copy.
    object.__setattr__(target, "history", whole[len(whole) - shift.n :])


def _bad(text: str) -> ProtocolError:
    return ProtocolError(f"$.delta.{text}", code="bad_delta")


def _decode(decoder: msgspec.json.Decoder[Any], raw: Any, where: str) -> Any:
    try:
        # msgspec builds the whole tree at once: ~100,000 objects for 1,000 x 10, all kept.
        # Letting the cyclic GC walk them on the way doubles the cost for nothing.
        return _without_gc(decoder.decode, raw)
    except msgspec.ValidationError as exc:
        text = str(exc)
        # msgspec says "... - at `$.services[0].key`": put the path first, like decode()
        if " - at `$" in text:
            what, _, path = text.rpartition(" - at `$")
            text = f"{where}{path.rstrip('`')}: {what}"
        else:
            text = f"{where}: {text}"
        raise ProtocolError(text, code="bad_value") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"{where}: not JSON: {exc}", code="bad_json") from None


_A = TypeVar("_A")
_R = TypeVar("_R")


def _without_gc(fn: Callable[[_A], _R], arg: _A) -> _R:
    if not gc.isenabled():
        return fn(arg)
    gc.disable()
    try:
        return fn(arg)
    finally:
        gc.enable()
