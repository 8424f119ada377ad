"""The control socket's wire format: versioned, newline-delimited JSON.

One JSON object a line, UTF-8, each with ``"v": 1`` and a ``"type"``::

    client → server   {"v":1,"type":"hello","id":1}
                      {"v":1,"type":"snapshot","id":2[,"base":7|null]}
                      {"v":1,"type":"subscribe","id":3[,"replay":true]}
                      {"v":1,"type":"call","id":4,"command":{"kind":"drain",...}}
    server → client   {"v":1,"type":"hello","id":1,"role":"operator","server":"lvstui 0.1.0",...}
                      {"v":1,"type":"snapshot","id":2,"snapshot":{...}}
                      {"v":1,"type":"result","id":3|4,"result":{"ok":true,...}}
                      {"v":1,"type":"event","event":{"kind":"health",...}}
                      {"v":1,"type":"error","id":4|null,"code":"permission","error":"..."}

Snapshots may travel as deltas: a request with ``"base"`` (null at first) is answered with
a ``"ref"``; sending that ref back as the next ``"base"`` gets ``{"type":"snapshot",
"ref":8,"base":7,"delta":{...}}`` — the snapshot with each service unchanged since the base
replaced by its index there (`lvstui.control.delta`). Without ``"base"``, always a full one.

A ``subscribe`` with ``"replay": true`` gets the daemon's recent events (a bounded ring,
oldest first) before the live ones, so an attaching console does not start with an empty
log; a daemon that predates it ignores the key and sends the live events only.

Acting or reading through a peer of the director group (`ctl --director NAME`, `list
--director NAME`): a ``call`` or ``snapshot`` request may carry ``"director": NAME``; the
daemon forwards it over the group channel and answers with that director's result or
snapshot (always a full one). Still version 1: a daemon that understands it lists
``"director"`` in its hello's ``"features"``, and a client sends the key only to such a
daemon (an older one would ignore it and act on itself).

The values inside (snapshots, events, commands) are the frozen dataclasses of
`lvstui.model`, converted by one generic codec driven by dataclass fields and type hints, so
adding a field to the model needs no change here. Enums travel as their value, tuples and
frozensets as lists, and a member of a union of dataclasses that carries a ``kind`` class
variable (events, commands) is tagged with that ``kind``. Unknown keys are ignored (a newer
peer may add fields); missing keys take the field's default.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, Union, get_args, get_origin

import msgspec

from lvstui.control import strict_json
from lvstui.errors import ControlError
from lvstui.model import Command, CommandResult, Event, Snapshot

__all__ = [
    "FEATURES",
    "MAX_REQUEST_LINE",
    "MAX_RESPONSE_LINE",
    "VERSION",
    "ProtocolError",
    "decode",
    "decode_command",
    "decode_event",
    "director_of",
    "encode",
    "error_message",
    "message",
    "parse_line",
    "parse_reply",
    "snapshot_message",
]

VERSION: Final = 1
# Optional request keys a daemon understands, announced in its hello (see the docstring).
FEATURES: Final = ("director",)
# Requests are small (a command); a cap keeps a hostile peer from making us buffer forever.
MAX_REQUEST_LINE: Final = 64 * 1024
# Snapshots of big tables with histories can be large; still bounded.
MAX_RESPONSE_LINE: Final = 32 * 1024 * 1024

REQUEST_TYPES: Final = frozenset({"hello", "snapshot", "subscribe", "call"})
RESPONSE_TYPES: Final = frozenset({"hello", "snapshot", "event", "result", "error"})

JSON = Any  # what json.loads returns


class ProtocolError(ControlError):
    """A line that is not a valid message, or a value that does not fit its type.

    `code` is a short stable token sent back in the ``error`` reply.
    """

    title = "control protocol error"

    def __init__(self, message: str, *, code: str = "bad_request", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.code = code


# --- encoding --------------------------------------------------------------------------------


def _kind_of(cls: type) -> str | None:
    """The ``kind`` class variable of an event/command class (not a dataclass field)."""
    if not dataclasses.is_dataclass(cls):
        return None
    if any(f.name == "kind" for f in dataclasses.fields(cls)):
        return None
    kind = getattr(cls, "kind", None)
    return kind if isinstance(kind, str) else None


# Both directions are compiled once per type into small closures (the console fetches a full
# snapshot every second: walking type hints per value would cost ten times more).

Encoder = Callable[[Any], JSON]
_encoders: dict[type, Encoder] = {}


def _encode_float(value: float) -> JSON:
    if value != value or value in (_INF, -_INF):
        raise ProtocolError(f"cannot encode non-finite float {value!r}", code="encode")
    return value


def _identity(value: Any) -> JSON:
    return value


def _encoder_for(cls: type) -> Encoder:
    enc = _encoders.get(cls)
    if enc is not None:
        return enc
    if cls is float:
        enc = _encode_float
    elif issubclass(cls, bool | int | str) and not issubclass(cls, enum.Enum):
        enc = _identity
    elif issubclass(cls, enum.Enum):

        def enc(value: Any) -> JSON:
            return encode(value.value)

    elif dataclasses.is_dataclass(cls):
        names = tuple(f.name for f in dataclasses.fields(cls))
        kind = _kind_of(cls)

        def enc(value: Any) -> JSON:
            out: dict[str, JSON] = {"kind": kind} if kind is not None else {}
            for name in names:
                v = getattr(value, name)
                out[name] = v if type(v) in _SCALARS else encode(v)
            return out

    elif issubclass(cls, tuple | list):

        def enc(value: Any) -> JSON:
            return [v if type(v) in _SCALARS else encode(v) for v in value]

    elif issubclass(cls, frozenset | set):

        def enc(value: Any) -> JSON:
            # Sorted so equal sets encode to equal text (stable output, diffable audit logs).
            items = (encode(v) for v in value)
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))

    elif issubclass(cls, Mapping):

        def enc(value: Any) -> JSON:
            return {str(k): encode(v) for k, v in value.items()}

    else:
        raise ProtocolError(f"cannot encode a {cls.__name__}", code="encode")
    _encoders[cls] = enc
    return enc


_INF = float("inf")
_MAX_FLOAT_INT = int(sys.float_info.max)  # beyond: float() overflows
_SCALARS = frozenset({int, str, bool, type(None)})  # JSON as they are (floats are checked)


def encode(value: object) -> JSON:
    """Any model value (dataclass, enum, tuple, frozenset, scalar) → plain JSON data."""
    if value is None:
        return None
    return _encoder_for(type(value))(value)


# --- decoding --------------------------------------------------------------------------------


class _Bad(Exception):
    """Raised deep inside a decoder; parents add their path segment on the way out."""

    def __init__(self, what: str, data: JSON, code: str = "bad_value") -> None:
        super().__init__(what)
        self.what = what
        self.data = data
        self.code = code
        self.path: list[str] = []


Decoder = Callable[[JSON], Any]
_decoders: dict[Any, Decoder] = {}


def _shown(data: JSON) -> str:
    try:
        return json.dumps(data)[:80]
    except (TypeError, ValueError):
        return repr(data)[:80]


def _expect(expected: str) -> Callable[[JSON], _Bad]:
    def bad(data: JSON) -> _Bad:
        return _Bad(f"expected {expected}, got {_shown(data)}", data)

    return bad


def _scalar_decoder(tp: type) -> Decoder:
    if tp is bool:
        bad = _expect("true or false")

        def dec(data: JSON) -> Any:
            if type(data) is not bool:
                raise bad(data)
            return data

    elif tp is int:
        bad = _expect("an integer")

        def dec(data: JSON) -> Any:
            if type(data) is not int:
                raise bad(data)
            return data

    elif tp is float:
        bad = _expect("a finite number")

        def dec(data: JSON) -> Any:
            t = type(data)
            if t is float and math.isfinite(data):  # NaN/Infinity never reach the engine
                return data
            if t is int and abs(data) <= _MAX_FLOAT_INT:
                return float(data)
            raise bad(data)

    elif tp is str:
        bad = _expect("a string")

        def dec(data: JSON) -> Any:
            if type(data) is not str:
                raise bad(data)
            return data

    else:  # NoneType
        bad = _expect("null")

        def dec(data: JSON) -> Any:
            if data is not None:
                raise bad(data)
            return None

    return dec


def _seq_items(data: JSON, item: Decoder) -> list[Any]:
    out = []
    for i, v in enumerate(data):
        try:
            out.append(item(v))
        except _Bad as exc:
            exc.path.append(f"[{i}]")
            raise
    return out


def _build_decoder(tp: Any) -> Decoder:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return _union_decoder(get_args(tp))
    if origin is ClassVar:
        raise ProtocolError("class variables do not travel", code="bad_value")
    if origin is tuple:
        args = get_args(tp)
        bad_list = _expect("a list")
        if len(args) == 2 and args[1] is Ellipsis:
            if args[0] is int:  # histories: long lists of counters, checked in one pass
                bad_int = _expect("an integer")

                def dec(data: JSON) -> Any:
                    if type(data) is not list:
                        raise bad_list(data)
                    for i, v in enumerate(data):
                        if type(v) is not int:
                            exc = bad_int(v)
                            exc.path.append(f"[{i}]")
                            raise exc
                    return tuple(data)

                return dec
            item = _decoder(args[0])

            def dec(data: JSON) -> Any:
                if type(data) is not list:
                    raise bad_list(data)
                return tuple(_seq_items(data, item))

            return dec
        items = [_decoder(a) for a in args]
        bad_n = _expect(f"a list of {len(args)}")

        def dec(data: JSON) -> Any:
            if type(data) is not list:
                raise bad_list(data)
            if len(data) != len(items):
                raise bad_n(data)
            out = []
            for i, (d, v) in enumerate(zip(items, data, strict=True)):
                try:
                    out.append(d(v))
                except _Bad as exc:
                    exc.path.append(f"[{i}]")
                    raise
            return tuple(out)

        return dec
    if origin is frozenset:
        item = _decoder(get_args(tp)[0])
        bad_list = _expect("a list")

        def dec(data: JSON) -> Any:
            if type(data) is not list:
                raise bad_list(data)
            return frozenset(_seq_items(data, item))

        return dec
    if tp in (bool, int, float, str, type(None)):
        return _scalar_decoder(tp)
    if tp is Any:
        return _identity
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        by_value = {m.value: m for m in tp}
        bad = _expect("one of " + ", ".join(repr(v) for v in by_value))

        def dec(data: JSON) -> Any:
            try:
                return by_value[data]
            except (KeyError, TypeError):
                raise bad(data) from None

        return dec
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    raise ProtocolError(f"cannot decode into {tp!r}", code="bad_value")


def _union_decoder(args: tuple[Any, ...]) -> Decoder:
    optional = type(None) in args
    members = [a for a in args if a is not type(None)]
    if len(members) == 1:
        inner = _decoder(members[0])
        if not optional:
            return inner

        def dec(data: JSON) -> Any:
            return None if data is None else inner(data)

        return dec
    # A tagged union (events, commands): pick the member by its `kind`.
    kinds = {k: m for m in members if isinstance(m, type) and (k := _kind_of(m)) is not None}
    if kinds and len(kinds) == len(members):
        by_kind = {k: _decoder(m) for k, m in kinds.items()}
        choices = ", ".join(sorted(kinds))
        bad_obj = _expect("an object with a kind")

        def dec(data: JSON) -> Any:
            if data is None and optional:
                return None
            if type(data) is not dict:
                raise bad_obj(data)
            kind = data.get("kind")
            d = by_kind.get(kind) if isinstance(kind, str) else None
            if d is None:
                raise _Bad(
                    f"unknown kind {kind!r} (expected one of {choices})", data, "unknown_kind"
                )
            return d(data)

        return dec
    decs = [_decoder(m) for m in members]

    def first_fit(data: JSON) -> Any:
        if data is None and optional:
            return None
        errors: list[str] = []
        for d in decs:
            try:
                return d(data)
            except _Bad as exc:
                errors.append(exc.what)
        raise _Bad(f"no member of the union fits: {'; '.join(errors)}", data)

    return first_fit


def _dataclass_decoder(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls)
    kind = _kind_of(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    spec = [
        (
            f.name,
            _decoder(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in fields
    ]
    bad_obj = _expect(f"an object ({cls.__name__})")
    name = cls.__name__

    def dec(data: JSON) -> Any:
        if type(data) is not dict:
            raise bad_obj(data)
        if kind is not None and "kind" in data and data["kind"] != kind:
            exc = _Bad(f"expected {kind!r}, got {_shown(data['kind'])}", data)
            exc.path.append(".kind")
            raise exc
        kwargs: dict[str, Any] = {}
        for fname, d, required in spec:
            if fname in data:
                try:
                    kwargs[fname] = d(data[fname])
                except _Bad as exc:
                    exc.path.append(f".{fname}")
                    raise
            elif required:
                raise _Bad(f"missing {fname!r} ({name})", data)
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise _Bad(str(exc), data) from None

    return dec


def _decoder(tp: Any) -> Decoder:
    dec = _decoders.get(tp)
    if dec is None:
        # A placeholder first, so a type that refers to itself does not recurse forever.
        _decoders[tp] = lambda data: _decoders[tp](data)
        try:
            dec = _build_decoder(tp)
        except BaseException:
            del _decoders[tp]
            raise
        _decoders[tp] = dec
    return dec


def decode(tp: Any, data: JSON, path: str = "$") -> Any:
    """Plain JSON data → a value of type `tp` (a model type, or a type hint over them).

    Raises ProtocolError naming the path of the first value that does not fit.
    """
    try:
        return _decoder(tp)(data)
    except _Bad as exc:
        where = path + "".join(reversed(exc.path))
        raise ProtocolError(f"{where}: {exc.what}", code=exc.code) from None


def decode_event(data: JSON) -> Event:
    ev: Event = decode(Event, data, "$.event")
    return ev


def decode_command(data: JSON) -> Command:
    cmd: Command = decode(Command, data, "$.command")
    return cmd


def decode_snapshot(data: JSON) -> Snapshot:
    snap: Snapshot = decode(Snapshot, data, "$.snapshot")
    return snap


def decode_result(data: JSON) -> CommandResult:
    res: CommandResult = decode(CommandResult, data, "$.result")
    return res


# --- messages --------------------------------------------------------------------------------


def message(type_: str, id_: int | None = None, **body: JSON) -> bytes:
    """One encoded line (with its newline). `body` values must already be plain JSON."""
    obj: dict[str, JSON] = {"v": VERSION, "type": type_}
    if id_ is not None:
        obj["id"] = id_
    obj.update(body)
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def error_message(id_: int | None, code: str, text: str, hint: str = "") -> bytes:
    body: dict[str, JSON] = {"code": code, "error": text}
    if hint:
        body["hint"] = hint
    return message("error", id_, **body)


def snapshot_message(
    id_: int | None, payload: bytes, *, delta: bool = False, **body: JSON
) -> bytes:
    """A snapshot reply whose payload (``snapshot``, or ``delta`` when `delta`) is already
    JSON text (from `lvstui.control.delta`): 7 MB is not parsed back just to be embedded."""
    head = message("snapshot", id_, **body)[:-2]  # without the closing "}" and newline
    return b"".join((head, b',"delta":' if delta else b',"snapshot":', payload, b"}\n"))


# Values of a reply that are kept as raw JSON text for `lvstui.control.delta` to decode.
RAW_VALUES: Final = frozenset({"snapshot", "delta"})
_reply_decoder: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])


def parse_reply(line: bytes) -> dict[str, JSON]:
    """One line from the server → the message object, like `parse_line`, except that the
    values named in RAW_VALUES stay `msgspec.Raw` (their JSON text, decoded later straight
    into model objects instead of through a 7 MB tree of dicts)."""
    try:
        raw = _reply_decoder.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        # not an object, or not JSON: let the plain parser say precisely what is wrong
        return parse_line(line, expect=RESPONSE_TYPES)
    obj: dict[str, JSON] = {}
    try:
        for key, value in raw.items():
            obj[key] = value if key in RAW_VALUES else msgspec.json.decode(value)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return parse_line(line, expect=RESPONSE_TYPES)  # e.g. an integer beyond 64 bits
    return _check(obj, RESPONSE_TYPES)


def parse_line(line: bytes, *, expect: frozenset[str] = REQUEST_TYPES) -> dict[str, JSON]:
    """One received line → the message object. ProtocolError for anything malformed."""
    try:
        obj = strict_json.loads(line)
    except strict_json.StrictJSONError as exc:
        raise ProtocolError(str(exc), code="bad_json") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"not JSON: {exc}", code="bad_json") from None
    return _check(obj, expect)


def _check(obj: JSON, expect: frozenset[str]) -> dict[str, JSON]:
    if not isinstance(obj, dict):
        raise ProtocolError("a message must be a JSON object", code="bad_json")
    v = obj.get("v")
    if v != VERSION:
        raise ProtocolError(
            f"unsupported protocol version {v!r} (this side speaks {VERSION})",
            code="version",
            hint="client and daemon come from different lvstui versions",
        )
    type_ = obj.get("type")
    if type_ not in expect:
        raise ProtocolError(
            f"unknown message type {type_!r} (expected one of {', '.join(sorted(expect))})",
            code="bad_type",
        )
    id_ = obj.get("id")
    if id_ is not None and (isinstance(id_, bool) or not isinstance(id_, int)):
        raise ProtocolError("id must be an integer", code="bad_request")
    return obj


def director_of(req: dict[str, JSON]) -> str | None:
    """The ``director`` a request is for (None: this one). ProtocolError if malformed."""
    name = req.get("director")
    if name is None:
        return None
    if not isinstance(name, str) or not name or len(name) > 255:
        raise ProtocolError("director must be a non-empty string", code="bad_request")
    return name
