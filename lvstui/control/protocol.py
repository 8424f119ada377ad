"""The control socket's wire format: versioned, newline-delimited JSON.

One JSON object a line, UTF-8, each with ``"v": 1`` and a ``"type"``::

    client → server   {"v":1,"type":"hello","id":1}
                      {"v":1,"type":"snapshot","id":2}
                      {"v":1,"type":"subscribe","id":3}
                      {"v":1,"type":"call","id":4,"command":{"kind":"drain",...}}
    server → client   {"v":1,"type":"hello","id":1,"role":"operator","server":"lvstui 0.1.0",...}
                      {"v":1,"type":"snapshot","id":2,"snapshot":{...}}
                      {"v":1,"type":"result","id":3|4,"result":{"ok":true,...}}
                      {"v":1,"type":"event","event":{"kind":"health",...}}
                      {"v":1,"type":"error","id":4|null,"code":"permission","error":"..."}

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
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Final, TypeVar, Union, get_args, get_origin

from lvstui.errors import ControlError
from lvstui.model import Command, CommandResult, Event, Snapshot

__all__ = [
    "MAX_REQUEST_LINE",
    "MAX_RESPONSE_LINE",
    "VERSION",
    "ProtocolError",
    "decode",
    "decode_command",
    "decode_event",
    "encode",
    "error_message",
    "message",
    "parse_line",
]

VERSION: Final = 1
# Requests are small (a command); a cap keeps a hostile peer from making us buffer forever.
MAX_REQUEST_LINE: Final = 64 * 1024
# Snapshots of big tables with histories can be large; still bounded.
MAX_RESPONSE_LINE: Final = 32 * 1024 * 1024

REQUEST_TYPES: Final = frozenset({"hello", "snapshot", "subscribe", "call"})
RESPONSE_TYPES: Final = frozenset({"hello", "snapshot", "event", "result", "error"})

JSON = Any  # what json.loads returns
T = TypeVar("T")


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


def encode(value: object) -> JSON:
    """Any model value (dataclass, enum, tuple, frozenset, scalar) → plain JSON data."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ProtocolError(f"cannot encode non-finite float {value!r}", code="encode")
        return value
    if isinstance(value, enum.Enum):
        return encode(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, JSON] = {}
        kind = _kind_of(type(value))
        if kind is not None:
            out["kind"] = kind
        for f in dataclasses.fields(value):
            out[f.name] = encode(getattr(value, f.name))
        return out
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, frozenset | set):
        # Sorted so equal sets encode to equal text (stable output, diffable audit logs).
        return sorted((encode(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    raise ProtocolError(f"cannot encode a {type(value).__name__}", code="encode")


# --- decoding --------------------------------------------------------------------------------

_hints_cache: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    hints = _hints_cache.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _hints_cache[cls] = hints
    return hints


def _fail(path: str, expected: str, data: JSON) -> ProtocolError:
    shown = json.dumps(data)[:80] if _jsonable(data) else repr(data)[:80]
    return ProtocolError(f"{path}: expected {expected}, got {shown}", code="bad_value")


def _jsonable(data: JSON) -> bool:
    try:
        json.dumps(data)
    except (TypeError, ValueError):
        return False
    return True


def _decode_union(args: tuple[Any, ...], data: JSON, path: str) -> Any:
    if data is None and type(None) in args:
        return None
    members = [a for a in args if a is not type(None)]
    if len(members) == 1:
        return decode(members[0], data, path)
    # A tagged union (events, commands): pick the member by its `kind`.
    kinds = {k: m for m in members if isinstance(m, type) and (k := _kind_of(m)) is not None}
    if kinds and len(kinds) == len(members):
        if not isinstance(data, dict):
            raise _fail(path, "an object with a kind", data)
        kind = data.get("kind")
        cls = kinds.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ProtocolError(
                f"{path}: unknown kind {kind!r} (expected one of {', '.join(sorted(kinds))})",
                code="unknown_kind",
            )
        return decode(cls, data, path)
    errors: list[str] = []
    for m in members:
        try:
            return decode(m, data, path)
        except ProtocolError as exc:
            errors.append(exc.message)
    raise ProtocolError(
        f"{path}: no member of the union fits: {'; '.join(errors)}", code="bad_value"
    )


def decode(tp: Any, data: JSON, path: str = "$") -> Any:
    """Plain JSON data → a value of type `tp` (a model type, or a type hint over them).

    Raises ProtocolError naming the path of the first value that does not fit.
    """
    if tp is Any:
        return data
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return _decode_union(get_args(tp), data, path)
    if origin is ClassVar:
        raise ProtocolError(f"{path}: class variables do not travel", code="bad_value")
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(data, list):
            raise _fail(path, "a list", data)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise _fail(path, f"a list of {len(args)}", data)
        return tuple(
            decode(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True))
        )
    if origin is frozenset:
        (arg,) = get_args(tp)
        if not isinstance(data, list):
            raise _fail(path, "a list", data)
        return frozenset(decode(arg, v, f"{path}[{i}]") for i, v in enumerate(data))
    if tp is type(None):
        if data is not None:
            raise _fail(path, "null", data)
        return None
    if tp is bool:
        if not isinstance(data, bool):
            raise _fail(path, "true or false", data)
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise _fail(path, "an integer", data)
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise _fail(path, "a number", data)
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise _fail(path, "a string", data)
        return data
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in tp)
            raise _fail(path, f"one of {allowed}", data) from None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, data, path)
    raise ProtocolError(f"{path}: cannot decode into {tp!r}", code="bad_value")


def _decode_dataclass(cls: type[T], data: JSON, path: str) -> T:
    if not isinstance(data, dict):
        raise _fail(path, f"an object ({cls.__name__})", data)
    kind = _kind_of(cls)
    if kind is not None and "kind" in data and data["kind"] != kind:
        raise _fail(f"{path}.kind", repr(kind), data["kind"])
    hints = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        if f.name in data:
            kwargs[f.name] = decode(hints[f.name], data[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ProtocolError(f"{path}: missing {f.name!r} ({cls.__name__})", code="bad_value")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{path}: {exc}", code="bad_value") from None


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


def parse_line(line: bytes, *, expect: frozenset[str] = REQUEST_TYPES) -> dict[str, JSON]:
    """One received line → the message object. ProtocolError for anything malformed."""
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"not JSON: {exc}", code="bad_json") from None
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
