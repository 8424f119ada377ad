"""The group wire format: one JSON object a line, `"t"` naming the message.

Everything a peer sends is checked here before anything else sees it: a malformed message
raises ValueError (the link logs it and drops the peer), never reaches the store.

    hello     {name, version}                     first line each way
    ping      {}                                  keeps a quiet link known alive
    summary   {root, buckets}                     anti-entropy step 1 (sync.Summary)
    versions  {buckets, versions: [[key, stamp, origin, value], ...]}         step 2
    entries   {entries: [entry, ...], want: [key, ...]}                       step 3 / 4
    status    {status: agree.Status doc}          digests for drift and split brain
    command   {id, command: doc, operator}        `ctl --director`: act through a peer
    result    {id, ok, message}                   its answer
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lvstui.group.clock import Hlc
from lvstui.group.store import Entry, EntryKey, Field, real_of, service_of
from lvstui.group.sync import BUCKETS, Summary, Version

__all__ = [
    "MAX_LINE",
    "PROTOCOL_VERSION",
    "CommandMsg",
    "Entries",
    "Hello",
    "Message",
    "Ping",
    "ResultMsg",
    "StatusMsg",
    "SummaryMsg",
    "Versions",
    "decode",
    "encode",
    "parse_key",
]

PROTOCOL_VERSION = 1
ENTRY_KINDS = frozenset({"delta", "push", "reply"})
MAX_LINE = 32 << 20  # a full table of tens of thousands of overrides fits


@dataclass(frozen=True, slots=True)
class Hello:
    name: str
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class SummaryMsg:
    summary: Summary


@dataclass(frozen=True, slots=True)
class Versions:
    buckets: frozenset[int]
    versions: Mapping[EntryKey, Version]


@dataclass(frozen=True, slots=True)
class Entries:
    entries: tuple[Entry, ...] = ()
    want: tuple[EntryKey, ...] = ()
    # "delta": a live change, no answer; "push": anti-entropy step 3, answered by a
    # "reply" carrying the entries in `want` (step 4, which completes the exchange)
    kind: str = "delta"

    def __post_init__(self) -> None:
        if self.kind not in ENTRY_KINDS:
            raise ValueError(
                f"entries kind must be one of {sorted(ENTRY_KINDS)}, not {self.kind!r}"
            )


@dataclass(frozen=True, slots=True)
class StatusMsg:
    status: Mapping[str, Any] = field(default_factory=dict)  # parsed by agree.Status.from_doc


@dataclass(frozen=True, slots=True)
class CommandMsg:
    id: int
    command: Mapping[str, Any]  # control.protocol's command document
    operator: str


@dataclass(frozen=True, slots=True)
class ResultMsg:
    id: int
    ok: bool
    message: str = ""
    detail: str = ""


Message = Hello | Ping | SummaryMsg | Versions | Entries | StatusMsg | CommandMsg | ResultMsg


def parse_key(text: str) -> EntryKey:
    svc, real, fld = text.rsplit("|", 2)
    return EntryKey(service_of(svc), real_of(real), Field(fld))


def _doc(msg: Message) -> dict[str, Any]:
    match msg:
        case Hello(name, version):
            return {"t": "hello", "name": name, "version": version}
        case Ping():
            return {"t": "ping"}
        case SummaryMsg(s):
            return {"t": "summary", "root": s.root, "buckets": list(s.buckets)}
        case Versions(buckets, versions):
            rows = [[k.text(), str(v[0]), v[1], v[2]] for k, v in versions.items()]
            return {"t": "versions", "buckets": sorted(buckets), "versions": rows}
        case Entries(entries, want, kind):
            return {
                "t": "entries",
                "entries": [e.to_doc() for e in entries],
                "want": [k.text() for k in want],
                "kind": kind,
            }
        case StatusMsg(status):
            return {"t": "status", "status": dict(status)}
        case CommandMsg(id_, command, operator):
            return {"t": "command", "id": id_, "command": dict(command), "operator": operator}
        case ResultMsg(id_, ok, message, detail):
            return {"t": "result", "id": id_, "ok": ok, "message": message, "detail": detail}


def encode(msg: Message) -> bytes:
    return json.dumps(_doc(msg), separators=(",", ":")).encode() + b"\n"


def _str(doc: Mapping[str, Any], key: str) -> str:
    v = doc.get(key)
    if not isinstance(v, str):
        raise ValueError(f"{key!r} must be a string, got {v!r}")
    return v


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    v = doc.get(key, [])
    if not isinstance(v, list):
        raise ValueError(f"{key!r} must be a list, got {type(v).__name__}")
    return v


def _int(doc: Mapping[str, Any], key: str) -> int:
    v = doc.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{key!r} must be an integer, got {v!r}")
    return v


def _mapping(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    v = doc.get(key)
    if not isinstance(v, dict):
        raise ValueError(f"{key!r} must be an object, got {type(v).__name__}")
    return v


def decode(line: bytes) -> Message:
    """One line from a peer → a message; ValueError says what is wrong with it."""
    try:
        doc = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ValueError("a JSON object was expected")
    t = doc.get("t")
    try:
        if t == "hello":
            name = _str(doc, "name")
            if not name or len(name) > 255:
                raise ValueError(f"bad director name {name!r}")
            return Hello(name, _int(doc, "version"))
        if t == "ping":
            return Ping()
        if t == "summary":
            buckets = tuple(str(b) for b in _list(doc, "buckets"))
            if len(buckets) != BUCKETS:
                raise ValueError(f"{len(buckets)} buckets, {BUCKETS} expected")
            return SummaryMsg(Summary(_str(doc, "root"), buckets))
        if t == "versions":
            bks = frozenset(int(b) for b in _list(doc, "buckets"))
            if any(not 0 <= b < BUCKETS for b in bks):
                raise ValueError("bucket out of range")
            vers: dict[EntryKey, Version] = {}
            for row in _list(doc, "versions"):
                if not isinstance(row, list) or len(row) != 4:
                    raise ValueError(f"bad version row {row!r}")
                vers[parse_key(str(row[0]))] = (Hlc.parse(str(row[1])), str(row[2]), str(row[3]))
            return Versions(bks, vers)
        if t == "entries":
            entries: list[Entry] = []
            for d in _list(doc, "entries"):
                if not isinstance(d, dict):
                    raise ValueError(f"bad entry {d!r}")
                entries.append(Entry.from_doc(d))
            want = tuple(parse_key(str(k)) for k in _list(doc, "want"))
            return Entries(tuple(entries), want, str(doc.get("kind", "delta")))
        if t == "status":
            return StatusMsg(_mapping(doc, "status"))
        if t == "command":
            return CommandMsg(_int(doc, "id"), _mapping(doc, "command"), _str(doc, "operator"))
        if t == "result":
            return ResultMsg(
                _int(doc, "id"),
                bool(doc.get("ok")),
                str(doc.get("message", "")),
                str(doc.get("detail", "")),
            )
    except (KeyError, TypeError) as e:
        raise ValueError(f"{t}: {e}") from e
    raise ValueError(f"unknown message type {t!r}")
